# Reverb, the simulator and the watcher on Debian 12.
#
#   docker build -t backbeat/reverb:local .
#
# The build stage installs packages with the project's own scripts/setup
# (the same Debian packages as a developer machine) and builds with CMake and
# Ninja; the runtime stage carries only the shared libraries the binaries
# load.

FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# Packages first, so source edits do not invalidate this layer.
COPY scripts/setup scripts/setup
RUN SETUP_PACKAGES_ONLY=1 scripts/setup && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DREVERB_WERROR=ON \
 && cmake --build build -j "$(nproc)" \
      --target reverb backbeat-sim backbeat-watch backbeat-validate

FROM debian:12-slim
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libnats3.4 libabsl20220623 libprometheus-cpp-core1.0 \
      libprometheus-cpp-pull1.0 libcivetweb1 libspdlog1.10 libfmt9 \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin reverb
COPY --from=build /src/build/bin/reverb /src/build/bin/backbeat-sim \
     /src/build/bin/backbeat-watch /src/build/bin/backbeat-validate \
     /usr/local/bin/
COPY config/reverb.flags /etc/reverb/reverb.flags
USER reverb
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s \
  CMD curl -fsS http://127.0.0.1:9464/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/reverb"]
CMD ["--flagfile=/etc/reverb/reverb.flags"]
