package ui

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// files is static/ as the root: index.html, app.css and the modules.
var files = mustSub(static, "static")

// Files returns the UI's static files, rooted at the directory that holds
// index.html. The file system is read-only and safe for concurrent use.
func Files() fs.FS { return files }

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		// fs.Sub fails only for an invalid path, a constant here.
		panic("ui: " + err.Error())
	}
	return sub
}
