# Latent service image. Built and run on users' machines (this project's CI cannot pull base images).
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    LATENT_HOME=/data \
    LATENT_HOST=0.0.0.0 \
    LATENT_PORT=8000

WORKDIR /app
# CPU torch first, so nothing pulls a CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md alembic.ini ./
COPY latent ./latent
COPY indexer ./indexer
COPY service ./service
COPY migrations ./migrations
RUN pip install '.[onnx,openvino]'

VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["latent", "serve", "--host", "0.0.0.0", "--port", "8000"]
