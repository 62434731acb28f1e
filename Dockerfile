# One image for every audiobatch process: worker, scheduler, dashboard, migrations.
# The wheel is built in a first stage and installed into the final one, which holds no source tree.
FROM python:3.11.11-slim-bookworm AS wheel
WORKDIR /src
# The build backend from its own hashed lock; the wheel is then built without fetching anything.
COPY requirements-build.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements-build.lock
COPY pyproject.toml README.md ./
COPY audiobatch ./audiobatch
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /dist .

FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    AUDIOBATCH_HOME=/var/lib/audiobatch
# The runtime packages only, each checked against its hash in the lock; the dev extra (tests,
# linters, browsers' drivers) stays out of the image. Then the wheel, which carries the
# migrations; --no-deps: the lock brought everything it needs.
COPY requirements-runtime.lock /tmp/
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements-runtime.lock
COPY --from=wheel /dist/*.whl /tmp/
RUN pip install --no-cache-dir --no-deps /tmp/*.whl && rm /tmp/*.whl /tmp/*.lock \
    && useradd --uid 1000 --create-home audiobatch \
    && mkdir -p "$AUDIOBATCH_HOME" && chown audiobatch: "$AUDIOBATCH_HOME"
# The home folder (SQLite, the answer spool, uploads) is the only place the processes write:
# each container gets a writable volume there, and the application stays read-only.
VOLUME /var/lib/audiobatch
WORKDIR /var/lib/audiobatch
USER audiobatch
ENTRYPOINT ["audiobatch"]
CMD ["--help"]
