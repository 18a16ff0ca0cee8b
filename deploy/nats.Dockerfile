# nats-server from the Go module edgesync already depends on (go.mod), static,
# on an empty filesystem: no registry is needed. Build the context first (go
# tool task images does both):
#   CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o deploy/build/nats-server github.com/nats-io/nats-server/v2
#   mkdir -p deploy/build/data
#   docker build -f deploy/nats.Dockerfile -t edgesync-nats:local deploy/build
FROM scratch
COPY nats-server /nats-server
# An empty /data owned by the server's user: a named volume mounted there
# starts with that owner, so JetStream can write without root.
COPY --chown=65532:65532 data /data
USER 65532:65532
EXPOSE 4222 6222 8222
ENTRYPOINT ["/nats-server"]
CMD ["-c", "/etc/nats/nats-server.conf"]
