# Image for both the API (`cms-graph serve`) and the workers (`cms-graph worker`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN useradd --system --create-home --home-dir /home/cms --uid 10001 cms

# The wheel carries projections/ and schema/ inside the package (see pyproject.toml),
# so the source tree is not needed once it is installed.
WORKDIR /tmp/cms-graph-src
COPY pyproject.toml README.md ./
COPY src ./src
COPY projections ./projections
COPY schema ./schema
RUN pip install . && rm -rf /tmp/cms-graph-src

USER cms
# CMS_DATA_DIR (default ./var) is relative to this folder, which the cms user owns.
WORKDIR /home/cms
EXPOSE 8000
CMD ["cms-graph", "serve", "--host", "0.0.0.0", "--port", "8000"]
