FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y libssl-dev pkg-config cmake && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --bin live-shopper

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y libssl3 ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/live-shopper /usr/local/bin/live-shopper
ENTRYPOINT ["live-shopper"]
