FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY audiobatch ./audiobatch
COPY migrations ./migrations
COPY manifests ./manifests
RUN pip install --no-cache-dir -e . && useradd --create-home audiobatch
USER audiobatch
ENTRYPOINT ["audiobatch"]
CMD ["--help"]
