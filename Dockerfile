# schemakv image: nothing but the static binary, FROM scratch (no base image
# is pulled, so it builds on a machine without a registry).
#
#   make build && make docker        # bin/schemakv (CGO_ENABLED=0), then schemakv:dev
#
# The classic builder and BuildKit both build it. The server is configured
# through SCHEMAKV_<FLAG> variables (every `schemakv server` flag has one).
# The image sets the ones that are the same in every container: it binds
# every interface (HTTP 7400, raft 7401, gossip 7402) and keeps its state in
# /data. They are ENV, not flags in CMD, because a flag given on the command
# line wins over its variable: `-e SCHEMAKV_HTTP_ADDR=...` (with --network
# host, say) must still work. Each container adds who it is and where its
# peers are:
#
#   SCHEMAKV_NODE_ID=n1
#   SCHEMAKV_RAFT_ADVERTISE=n1:7401   # required when binding 0.0.0.0: an
#                                     # address peers can dial; a hostname is
#                                     # resolved once, at start
#   SCHEMAKV_HTTP_ADVERTISE=n1:7400   # what /v1/cluster shows
#   SCHEMAKV_JOIN=n2:7402,n3:7402     # gossip addresses; hostnames are fine
#   SCHEMAKV_BOOTSTRAP_EXPECT=3       # or SCHEMAKV_READ_REPLICA=true
#
# SCHEMAKV_GOSSIP_ADVERTISE takes an IP, not a hostname (memberlist). Leave
# it unset in a container on one network: memberlist then advertises the
# container's private IP. On several networks, set it.
#
# Binding every interface, a node refuses to start without TLS (HTTP and
# cluster port) and a gossip key unless SCHEMAKV_INSECURE_PLAINTEXT=true says
# plain text is meant (README "TLS and encryption").
#
# A single node: docker run -p 127.0.0.1:7400:7400 -e SCHEMAKV_RAFT_ADVERTISE=127.0.0.1:7401 -e SCHEMAKV_INSECURE_PLAINTEXT=true schemakv:dev

# Three empty directories owned by the runtime user: a scratch image has no
# shell to chown them, but COPY --chown of a directory from another stage
# does. Docker copies /data's ownership into a new named volume, so the
# non-root server can write its volume. /tmp is where a snapshot restore
# stages the uploaded file. /certs is where `schemakv tls init` writes a
# CA, node certificates and the gossip key (docker-compose.yml).
FROM scratch AS dirs
WORKDIR /data
WORKDIR /tmp
WORKDIR /certs

FROM scratch
COPY --from=dirs --chown=65532:65532 /data /data
COPY --from=dirs --chown=65532:65532 /tmp /tmp
COPY --from=dirs --chown=65532:65532 /certs /certs
COPY bin/schemakv /schemakv
# 65532 is the conventional "nonroot" uid/gid of distroless images; there is
# no /etc/passwd, so it is given by number.
USER 65532:65532
VOLUME /data
# 7400 HTTP API, 7401 raft and cluster RPC, 7402 gossip (TCP and UDP).
EXPOSE 7400/tcp 7401/tcp 7402/tcp 7402/udp
# Liveness: the CLI asks the node's own API (default --addr
# http://127.0.0.1:7400) on GET /v1/health, the one route that needs no
# token; there is no shell or curl in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/schemakv", "cluster", "health", "-o", "json"]
ENV SCHEMAKV_DATA_DIR=/data \
    SCHEMAKV_HTTP_ADDR=0.0.0.0:7400 \
    SCHEMAKV_RAFT_ADDR=0.0.0.0:7401 \
    SCHEMAKV_GOSSIP_ADDR=0.0.0.0:7402 \
    SCHEMAKV_LOG_FORMAT=json
# SIGTERM: the server hands leadership over and stops within 30s; give
# `docker stop` that long (docker stop -t 40, compose stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/schemakv"]
CMD ["server"]
