#!/usr/bin/env bash
# `make run`: a private mosquitto on loopback, an agent, a local-port and a local-socks,
# a small web server behind the agent, and the commands that show traffic going through.
set -u
N4M=${1:-build/net4mqtt}
source "$(dirname "$0")/lib.sh"
N4M_BIN=$N4M

pick() { # preferred port, else a free one
	if port_listening "$1"; then free_port; else echo "$1"; fi
}

start_broker || { echo "mosquitto did not start: $(cat "$TEST_TMP"/mosquitto-*.log)"; exit 1; }
web=$(free_port)
mkdir -p "$TEST_TMP/www"
echo "hello from behind the agent ($(hostname), $(date -u +%FT%TZ))" >"$TEST_TMP/www/index.html"
start_http "$TEST_TMP/www" "$web" || { echo "web server did not start"; exit 1; }

url="$BROKER_URL_BASE/net4mqtt"
lport=$(pick 4444)
sport=$(pick 1080)
"$N4M" -v agent -m "$url" -i demo-agent -t "127.0.0.1:$web" --allow "127.0.0.1:$web" --allow "[::1]:$web" &
bg_track $!
"$N4M" -v local-port -m "$url" -i demo-port -a demo-agent -l "127.0.0.1:$lport" &
bg_track $!
"$N4M" -v local-socks -m "$url" -i demo-socks -a demo-agent -l "127.0.0.1:$sport" &
bg_track $!
wait_for 10 port_listening "$lport" && wait_for 10 port_listening "$sport" ||
	{ echo "net4mqtt did not start listening"; exit 1; }

cat <<EOT

net4mqtt is running: mosquitto on 127.0.0.1:$BROKER_PORT, agent "demo-agent" in front of a
web server on 127.0.0.1:$web, local-port on 127.0.0.1:$lport, local-socks on 127.0.0.1:$sport.
Paste these into another terminal:

  curl http://127.0.0.1:$lport/                                          # local-port -> agent -> web
  curl --socks5-hostname 127.0.0.1:$sport http://127.0.0.1:$web/          # SOCKS5, destination by IP
  curl --socks5-hostname 127.0.0.1:$sport http://localhost:$web/          # the agent resolves the name
  curl --socks5-hostname 127.0.0.1:$sport http://demo-agent.net4mqtt.local/  # kxdns: the agent's default target
  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -N 127.0.0.1 $lport                # raw TCP with nc
  mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -t 'net4mqtt/#' -v         # watch the MQTT topics

Ctrl-C stops all of it.
EOT
trap 'echo; echo "stopping"; exit 0' INT TERM
wait
