# psflow's image: every psflow process (worker, ingress, codec-server, inbox, store upgrade,
# sandbox) is `psflow <command>`. Multi-stage: the build stage installs psflow into a virtual
# environment (a wheel install, so every module is compiled to bytecode: the workflow sandbox
# imports them anew per run); the runtime stage copies only that environment and runs as an
# unprivileged user.
#   docker build -t psflow:0.1.0 .
#   docker run --rm psflow:0.1.0 --help

ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/psflow
COPY pyproject.toml README.md ./
COPY application ./application
COPY models ./models
COPY workflows ./workflows
COPY activities ./activities
COPY connectors ./connectors
COPY store ./store
COPY sandbox ./sandbox
COPY cli ./cli
COPY security ./security
COPY telemetry ./telemetry
COPY ingress ./ingress
COPY stack ./stack
COPY inbox ./inbox
COPY tryton_psflow ./tryton_psflow
COPY worker.py config.py config_sources.py ./
RUN /opt/psflow/bin/pip install . \
    && /opt/psflow/bin/python -m compileall -q /opt/psflow/lib

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 psflow \
    && useradd --system --uid 10001 --gid psflow --home-dir /var/lib/psflow --create-home psflow
COPY --from=build /opt/psflow /opt/psflow
ENV PATH=/opt/psflow/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PSFLOW_DATA_DIR=/var/lib/psflow
USER psflow
WORKDIR /var/lib/psflow
# ingress, codec server, inbox, worker metrics
EXPOSE 8710 8081 8720 9464
STOPSIGNAL SIGTERM
ENTRYPOINT ["psflow"]
CMD ["--help"]
