# syntax=docker/dockerfile:1
#
# Images of both programs, from one build stage:
#   docker build --target cairn          -t cairn:0.1.0 .
#   docker build --target cairn-operator -t cairn-operator:0.1.0 .
# Both run as a non-root user on distroless (glibc, CA certificates, no shell). The
# operator renders server pods that run `cairn server` as uid 1000 with a read-only root
# file system; the binary is on PATH at /usr/local/bin/cairn.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches survive between builds (BuildKit cache mounts).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p cairn --bin cairn -p cairn-operator --bin cairn-operator \
    && mkdir -p /out \
    && cp target/release/cairn target/release/cairn-operator /out/

FROM gcr.io/distroless/cc-debian12:nonroot AS cairn
COPY --from=build /out/cairn /usr/local/bin/cairn
USER 1000:1000
EXPOSE 9000 9090
ENTRYPOINT ["/usr/local/bin/cairn"]
CMD ["server", "--help"]

FROM gcr.io/distroless/cc-debian12:nonroot AS cairn-operator
COPY --from=build /out/cairn-operator /usr/local/bin/cairn-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/cairn-operator"]
CMD ["run", "--leader-elect"]
