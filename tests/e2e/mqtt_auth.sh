#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# The MQTT password out of argv, against a mosquitto with a password_file and no
# anonymous access: an agent and a local-port given it by --password-file carry data,
# and neither `ps` nor /proc/PID/cmdline shows it; NET4MQTT_PASSWORD works too; the
# file wins over the environment, which wins over the URL; a wrong password is refused
# with the broker's reason; a password in the URL works but warns once; a file every
# user may read is warned about; `run -c` takes password-file from [net4mqtt].
set -u
source "$(dirname "$0")/../lib.sh"

PW='Zq7-s3cret-pw' # distinctive, to look for in ps
mosquitto_passwd -b -c "$TEST_TMP/passwd" n4muser "$PW" 2>/dev/null ||
	{ fail "mosquitto_passwd creates a password file"; exit 1; }
chmod 644 "$TEST_TMP/passwd" # mosquitto started as root reads it as user mosquitto
need "mosquitto starts with a password file and allow_anonymous false" \
	start_broker "$(free_port)" "allow_anonymous false" "password_file $TEST_TMP/passwd"
URL="mqtt://n4muser@127.0.0.1:$BROKER_PORT/e2e/auth" # a user, no password

umask 077
printf '%s\n' "$PW" >"$TEST_TMP/pw"
printf '%s\n' "wrong-$PW" >"$TEST_TMP/pw-wrong"

echo_port=$(free_port)
socat TCP-LISTEN:"$echo_port",bind=127.0.0.1,reuseaddr,fork EXEC:cat &
bg_track $!
wait_for 10 port_listening "$echo_port"

connected() { grep -q 'mqtt: connected' "$TEST_TMP/$1.log" 2>/dev/null; }
never_connected() { ! grep -q 'mqtt: connected' "$TEST_TMP/$1.log"; }
not_authorised() { grep -q 'refused the connection: .*not authori' "$TEST_TMP/$1.log"; }
url_warning() { grep -c 'WARN .*MQTT password in the URL (-m) is visible to every user in ps' "$TEST_TMP/$1.log"; }

n4m anon agent -m "mqtt://127.0.0.1:$BROKER_PORT/e2e/auth" -i anon
check "the broker lets no one in without a password (the log says not authorised)" wait_for 10 not_authorised anon

# ---- --password-file: data, and the password in no process's arguments ----
lp=$(free_port)
n4m agent agent -m "$URL" --password-file "$TEST_TMP/pw" -i auth-agent -t "127.0.0.1:$echo_port"
n4m local local-port -m "$URL" --password-file "$TEST_TMP/pw" -i auth-local -a auth-agent -l "127.0.0.1:$lp"
check "agent with --password-file logs in" wait_for 10 connected agent
check "local-port with --password-file logs in" wait_for 10 connected local
wait_for 10 port_listening "$lp"
reply=$(printf 'through-auth\n' | timeout 10 nc -N 127.0.0.1 "$lp")
check "data crosses the broker that wants a password (got '$reply')" [ "$reply" = "through-auth" ]
args=$(ps -o args= -p "$agent_PID,$local_PID")
check "ps shows both processes: $(tr '\n' '|' <<<"$args")" [ "$(grep -c net4mqtt <<<"$args")" -eq 2 ]
check "... and the password in neither" bash -c "! grep -qF -- '$PW' <<<\"\$1\"" _ "$args"
check "nor in /proc/PID/cmdline" bash -c "! tr '\0' ' ' </proc/$agent_PID/cmdline | grep -qF -- '$PW' &&
	! tr '\0' ' ' </proc/$local_PID/cmdline | grep -qF -- '$PW'"
check "no warning about a password in the URL" [ "$(url_warning agent)" -eq 0 ]
check "no warning about the file's mode (0600)" bash -c "! grep -q 'can be read by every user' '$TEST_TMP/agent.log'"

# ---- a wrong password: the broker's reason in the log, and the process goes on trying ----
n4m wrong agent -m "$URL" --password-file "$TEST_TMP/pw-wrong" -i wrong
check "a wrong --password-file: refused, the log says not authorised" wait_for 10 not_authorised wrong
grep -m 1 'refused the connection' "$TEST_TMP/wrong.log"
check "... never reports a connection" never_connected wrong
check "... and keeps running (it retries)" kill -0 "$wrong_PID"

# ---- the environment variable, and the order: file, environment, URL ----
NET4MQTT_PASSWORD=$PW n4m env agent -m "$URL" -i env-agent
check "NET4MQTT_PASSWORD logs in" wait_for 10 connected env
check "... and is not in ps" bash -c "! ps -o args= -p $env_PID | grep -qF -- '$PW'"
NET4MQTT_PASSWORD=wrong n4m filewins agent -m "$URL" --password-file "$TEST_TMP/pw" -i filewins
check "--password-file wins over NET4MQTT_PASSWORD" wait_for 10 connected filewins
NET4MQTT_PASSWORD=$PW n4m envwins agent -m "mqtt://n4muser:wrong@127.0.0.1:$BROKER_PORT/e2e/auth" -i envwins
check "NET4MQTT_PASSWORD wins over the URL's password" wait_for 10 connected envwins

# ---- a password in the URL: it works, and one WARN line says ps shows it ----
n4m inurl agent -m "mqtt://n4muser:$PW@127.0.0.1:$BROKER_PORT/e2e/auth" -i inurl
check "a password in the URL still logs in" wait_for 10 connected inurl
check "... and one WARN line says ps shows it: $(grep -m 1 'password in the URL' "$TEST_TMP/inurl.log")" \
	[ "$(url_warning inurl)" -eq 1 ]
check "... naming --password-file" grep -q 'password in the URL.*--password-file FILE' "$TEST_TMP/inurl.log"

# ---- a file every user may read ----
cp "$TEST_TMP/pw" "$TEST_TMP/pw-open"
chmod 644 "$TEST_TMP/pw-open"
n4m open agent -m "$URL" --password-file "$TEST_TMP/pw-open" -i open
check "a password file every user may read: a WARN line names it and its mode" \
	wait_for 10 grep -q "WARN .*--password-file $TEST_TMP/pw-open can be read by every user (mode 0644)" "$TEST_TMP/open.log"
check "... and it still logs in" wait_for 10 connected open

# ---- errors before anything starts: one line, exit 2 ----
out=$(timeout 5 "$N4M" agent -m "$URL" --password-file "$TEST_TMP/missing" 2>&1)
rc=$?
check "a missing --password-file: exit 2 (rc $rc) and one line naming it and why: $out" \
	bash -c '[ "$1" -eq 2 ] && [ "$2" = "net4mqtt: cannot read --password-file $3: No such file or directory" ]' \
	_ "$rc" "$out" "$TEST_TMP/missing"
out=$(NET4MQTT_PASSWORD=$PW timeout 5 "$N4M" agent -m "mqtt://127.0.0.1:$BROKER_PORT/e2e/auth" 2>&1)
rc=$?
check "NET4MQTT_PASSWORD with no user in the URL: exit 2 (rc $rc), one line: $out" \
	bash -c '[ "$1" -eq 2 ] && [ "$2" = "net4mqtt: NET4MQTT_PASSWORD is set, but the MQTT URL names no user: mqtt[s]://USER@HOST/PREFIX" ]' \
	_ "$rc" "$out"

# ---- run -c: password-file in [net4mqtt] ----
cat >"$TEST_TMP/n4m.conf" <<EOF
[net4mqtt]
mqtt-url = $URL
password-file = $TEST_TMP/pw
status-listen = off

[agent]
id = conf-agent
EOF
n4m conf run -c "$TEST_TMP/n4m.conf" -f
check "run -c with password-file in [net4mqtt] logs in" wait_for 10 connected conf
check "... and its arguments hold no password" bash -c "! ps -o args= -p $conf_PID | grep -qF -- '$PW'"
finish
