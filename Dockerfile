# stashplex in a container: configured by /config/stashplex.yaml or by STASHPLEX_* variables
# alone; the database lives next to the config file, in the /config volume.
# See docker-compose.example.yml and README.md "In Docker".
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STASHPLEX_CONFIG=/config/stashplex.yaml

RUN useradd --system --uid 1000 --user-group --home-dir /config --shell /usr/sbin/nologin \
        stashplex \
    && mkdir -p /config \
    && chown stashplex:stashplex /config

WORKDIR /src
COPY pyproject.toml setup.cfg README.md LICENSE ./
COPY reconciler ./reconciler
RUN pip install --no-cache-dir . \
    && rm -rf /src

WORKDIR /config
USER stashplex
VOLUME ["/config"]

HEALTHCHECK --interval=60s --timeout=15s --start-period=120s --retries=3 \
    CMD ["stashplex", "health"]
ENTRYPOINT ["stashplex"]
CMD ["run"]
