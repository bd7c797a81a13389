# syntax=docker/dockerfile:1
# One image for the cluster pods (`kingbus node`) and the operator (`kingbus operator`). Node 24
# runs the TypeScript sources directly (type stripping): no build step, production packages only.
#   docker build -t kingbus:dev .
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the runtime packages need none (protobufjs's only checks its version).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin/kingbus ./bin/kingbus
COPY scripts/project-node.sh ./scripts/project-node.sh
COPY node/proto ./node/proto
COPY node/src ./node/src
COPY operator/src ./operator/src
# The pods' start-up script runs `kingbus node` from the PATH.
RUN ln -s /app/bin/kingbus /usr/local/bin/kingbus
# The base image's `node` user (uid and gid 1000): the manifests the operator writes run the pods
# as it (runAsNonRoot, fsGroup 1000 for the volume), and the chart runs the operator as it.
USER 1000:1000
# peer and admin gRPC, admin HTTP (/metrics, /healthz, /readyz), the binlog server's default port
EXPOSE 9696 9595 3306
ENTRYPOINT ["/app/bin/kingbus"]
CMD ["--help"]
