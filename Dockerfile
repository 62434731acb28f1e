FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# The runtime packages only, each checked against its hash in the lock; the dev extra (tests,
# linters, browsers' drivers) stays out of the image.
COPY requirements-runtime.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements-runtime.lock
COPY pyproject.toml README.md alembic.ini ./
COPY audiobatch ./audiobatch
COPY migrations ./migrations
COPY manifests ./manifests
# Editable, so that the code finds migrations/ beside it; --no-deps: the lock brought them all.
RUN pip install --no-cache-dir --no-deps -e . && useradd --create-home audiobatch
USER audiobatch
ENTRYPOINT ["audiobatch"]
CMD ["--help"]
