# For hosts other than Replit. Build: docker build -t spotify-bot .
# Run:   docker run --env-file .env -p 8080:8080 -v spotify-bot-data:/app/data spotify-bot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DATABASE_PATH=/app/data/bot.db LOG_DIR=/app/data/logs WEB_HOST=0.0.0.0 WEB_PORT=8080

WORKDIR /app
# FriBiDi lets Pillow lay out right-to-left names (Arabic) in the chart pictures.
RUN apt-get update && apt-get install -y --no-install-recommends libfribidi0 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN useradd --create-home --uid 10001 bot && mkdir -p /app/data && chown -R bot:bot /app/data
USER bot

# The database and logs live on a volume so they survive a new image.
VOLUME ["/app/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"WEB_PORT\", \"8080\")}/health', timeout=4)" || exit 1

CMD ["python", "main.py"]
