FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build
# Production: nothing starts while a secret is missing or a development default, no demo, no
# token printed (README, "Production checklist"); secrets may come as <NAME>_FILE.
ENV NODE_ENV=production
CMD ["node", "scripts/start.js"]
