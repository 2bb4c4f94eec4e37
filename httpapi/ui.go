package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/schemakv/schemakv/ui"
)

// uiCSP allows the UI only its own files and the API of the server that
// served it: no inline scripts or styles, nothing from elsewhere, no framing.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// uiRoutes serves the web UI (package ui) under /ui/ and sends / there.
// The files are public: they hold no data, and every API request the UI
// makes carries the user's token.
func (s *Server) uiRoutes() {
	e := s.engine
	files := http.StripPrefix("/ui", http.FileServer(http.FS(ui.Files())))
	serve := func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", uiCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(c.Writer, c.Request)
	}
	toUI := func(c *gin.Context) { c.Redirect(http.StatusFound, "/ui/") }
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		e.Handle(m, "/ui/*filepath", serve)
		e.Handle(m, "/ui", toUI)
		e.Handle(m, "/", toUI)
	}
}
