#!/usr/bin/env bash
# stack.sh - start, stop and inspect lasync's development stack.
#
# Usage: scripts/stack.sh COMMAND [--instance demo|test|bench|ci] [--reset]
#                         [--timeout SECONDS] [COMPONENT...]
#
# Commands
#   start    start the components that are not running (idempotent), then
#            wait until each answers; --reset wipes their state first
#   stop     stop them: SIGTERM, then SIGKILL after a grace period
#   restart  stop, then start
#   wait     only wait until the running components answer
#   status   print each component up / starting / down; exit 3 if any is not up
#   env      print `export` lines for the instance (also in <state>/env)
#   reset    stop the components and wipe their state (all: the instance dir)
#
# Components: kafka redis portal smtp lassim (default: all; lassim only when
# tools/lassim/lassim.py exists). Instances run side by side, each with its
# own ports and state directory .local/stack/<instance>/:
#
#   instance  kafka (controller)  redis  portal  lassim (https)  smtp
#   demo      19092 (19093)       19379  19080   19081 (19443)   19025
#   test      29092 (29093)       29379  29080   29081 (29443)   29025
#   bench     39092 (39093)       39379  39080   39081 (39443)   39025
#   ci        49092 (49093)       49379  49080   49081 (49443)   49025
#
# The bench instance is bench/run.sh's own, so benchmarks never disturb a
# demo or a test run; the ci instance is for a second test run beside one
# on the test instance (LASYNC_TEST_INSTANCE=ci scripts/test.sh).
#
# The instance defaults to $LASYNC_STACK_INSTANCE, else demo. Every process
# runs in the background in its own session, logs to files in the state
# directory (never to the terminal) and is tracked by a pid file holding its
# pid and start time, so a recycled pid is never mistaken for it.
#
# Environment: LASYNC_STACK_TIMEOUT (seconds to wait for each component;
# default 90 for kafka, 30 for the others), LASYNC_LASSIM_FIXTURES (fixtures
# of the LAS simulator; default a scratch copy of fixtures/las in the state
# directory, made when missing), LASYNC_CERTS_DIR (test CA, the simulator's
# HTTPS certificate and client certificates, made by scripts/certs.sh when
# missing; default .local/certs, shared by the instances).
#
# Exit status: 0 on success; 1 on failure, with a message naming the
# component and its log file; 2 on a usage error; 3 from status when a
# component is not up.
#
# Adding a component NAME: write NAME_start (prepare its state, then
# `launch NAME LOGFILE COMMAND...`), NAME_ready (true once it answers),
# NAME_log (the log to point at), optionally NAME_available, and add NAME
# to COMPONENTS and to the ports in set_instance.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
VENV_PY="$LOCAL/venv/bin/python"
KAFKA_JARS="$LOCAL/kafka/jars"
COMPONENTS=(kafka redis portal smtp lassim) # start order; stop is the reverse

PROG=stack.sh
INSTANCE=""
STATE=""
RESET=0
ALL=1 # no component named on the command line
TIMEOUT_OVERRIDE="${LASYNC_STACK_TIMEOUT:-}"

die() {
	echo "$PROG: $*" >&2
	exit 1
}
usage_error() {
	echo "$PROG: $*" >&2
	echo "usage: stack.sh start|stop|restart|wait|status|env|reset [--instance demo|test|bench|ci] [--reset] [--timeout S] [component...]" >&2
	exit 2
}
say() { echo "$PROG: $*" >&2; }

# ---------------------------------------------------------------- instances

# set_instance - the ports and state directory of an instance
set_instance() {
	local digit
	case "$1" in
	demo) digit=1 ;;
	test) digit=2 ;;
	bench) digit=3 ;;
	ci) digit=4 ;;
	*) usage_error "unknown instance '$1' (demo, test, bench or ci)" ;;
	esac
	INSTANCE=$1
	STATE="$LOCAL/stack/$INSTANCE"
	KAFKA_PORT=${digit}9092
	KAFKA_CONTROLLER_PORT=${digit}9093
	REDIS_PORT=${digit}9379
	PORTAL_PORT=${digit}9080
	LASSIM_PORT=${digit}9081
	LASSIM_HTTPS_PORT=${digit}9443 # the simulator's HTTPS listener (ESIS, mutual TLS)
	SMTP_PORT=${digit}9025
}

# ---------------------------------------------------------------- processes

pidfile() { echo "$STATE/run/$1.pid"; }

# proc_start_time - the start time of a process (clock ticks since boot)
proc_start_time() {
	local stat fields
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	# The command name (field 2) may hold spaces: split after its ')'.
	read -ra fields <<<"${stat##*) }"
	[ "${fields[0]}" != Z ] || return 1 # a zombie has exited
	echo "${fields[19]}"
}

# component_pid - print the pid of a running component, or fail
component_pid() {
	local file pid start now
	file=$(pidfile "$1")
	[ -f "$file" ] || return 1
	read -r pid start <"$file" || return 1
	now=$(proc_start_time "$pid") || return 1
	[ "$now" = "$start" ] || return 1
	echo "$pid"
}

is_running() { component_pid "$1" >/dev/null; }

# launch - start a command in the background, in its own session, logging
# to a file, and record its pid and start time in the component's pid file
launch() {
	local name=$1 log=$2 file tries=0
	shift 2
	file=$(pidfile "$name")
	mkdir -p "$(dirname "$file")" "$(dirname "$log")"
	rm -f "$file"
	# The inner shell writes its own pid (kept by exec), whatever setsid
	# does about forking; its own session keeps the terminal's Ctrl-C away.
	# fd 9 is the instance lock: the daemon must not inherit it.
	# shellcheck disable=SC2016 # expanded by the inner shell
	setsid bash -c '
		stat=$(cat /proc/$$/stat); read -ra f <<<"${stat##*) }"
		echo "$$ ${f[19]}" > "$0.tmp" && mv "$0.tmp" "$0"
		exec "$@"' "$file" "$@" </dev/null >>"$log" 2>&1 9>&- &
	while [ ! -f "$file" ]; do
		tries=$((tries + 1))
		[ "$tries" -le 100 ] || die "$name: did not start; see $log"
		sleep 0.05
	done
}

# port_in_use - tell whether something accepts connections on a local port
port_in_use() {
	timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# check_ports - refuse to start when another process holds a port
check_ports() {
	local name=$1 port
	shift
	for port in "$@"; do
		if port_in_use "$port"; then
			die "$name: port $port is already in use by a process that stack.sh did not start for instance '$INSTANCE'; stop it (ss -ltnp 'sport = :$port' shows it) or use another instance"
		fi
	done
}

need_venv() {
	[ -x "$VENV_PY" ] || die "$1: $LOCAL/venv is missing; run scripts/deps.sh"
}

need_command() {
	command -v "$2" >/dev/null 2>&1 || die "$1: '$2' is not installed; run scripts/deps.sh"
}

# ---------------------------------------------------------------- kafka

kafka_log() { echo "$STATE/kafka/logs/server.log"; }

kafka_start() {
	local dir="$STATE/kafka" id
	need_command kafka java
	compgen -G "$KAFKA_JARS/kafka_2.13-*.jar" >/dev/null ||
		die "kafka: no broker jars in $KAFKA_JARS; run scripts/deps.sh"
	check_ports kafka "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
	mkdir -p "$dir/data" "$dir/logs"

	cat >"$dir/server.properties" <<-EOF
		# Written by scripts/stack.sh for instance $INSTANCE; rewritten on every start.
		# Single-node KRaft: this process is both broker and controller.
		process.roles=broker,controller
		node.id=1
		controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
		listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
		advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
		controller.listener.names=CONTROLLER
		inter.broker.listener.name=PLAINTEXT
		listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
		log.dirs=$dir/data

		# One node: every replication factor and ISR is 1.
		default.replication.factor=1
		min.insync.replicas=1
		offsets.topic.replication.factor=1
		transaction.state.log.replication.factor=1
		transaction.state.log.min.isr=1
		share.coordinator.state.topic.replication.factor=1
		share.coordinator.state.topic.min.isr=1
		# Fewer internal partitions: the first consumer group starts faster.
		offsets.topic.num.partitions=8
		transaction.state.log.num.partitions=8

		# Topics are created explicitly, with 8 partitions unless told otherwise.
		auto.create.topics.enable=false
		num.partitions=8
		# Tests must not wait 3 s for every consumer group.
		group.initial.rebalance.delay.ms=0
		# Snapshot and change-set messages go up to 16 MiB, plus overhead.
		message.max.bytes=17825792
		replica.fetch.max.bytes=17825792

		# Sized for a 2-core development machine.
		num.network.threads=2
		num.io.threads=4
		log.cleaner.threads=1
	EOF

	cat >"$dir/log4j2.properties" <<-EOF
		# Written by scripts/stack.sh: the broker logs to files, never to the terminal.
		status = warn
		appender.server.type = RollingFile
		appender.server.name = server
		appender.server.fileName = $dir/logs/server.log
		appender.server.filePattern = $dir/logs/server.log.%i
		appender.server.layout.type = PatternLayout
		appender.server.layout.pattern = [%d] %p %m (%c)%n
		appender.server.policies.type = Policies
		appender.server.policies.size.type = SizeBasedTriggeringPolicy
		appender.server.policies.size.size = 50MB
		appender.server.strategy.type = DefaultRolloverStrategy
		appender.server.strategy.max = 3
		rootLogger.level = info
		rootLogger.appenderRef.server.ref = server
		logger.request.name = kafka.request.logger
		logger.request.level = warn
		logger.state.name = state.change.logger
		logger.state.level = warn
		logger.cleaner.name = kafka.log.LogCleaner
		logger.cleaner.level = info
	EOF

	local java_opts=(
		-Xms256m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20
		-XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
		-Djava.awt.headless=true
		# log4j2's own shutdown hook would stop logging before Kafka's
		# shutdown hook is done, hiding how the broker went down.
		-Dlog4j2.shutdownHookEnabled=false
		"-Dlog4j2.configurationFile=file:$dir/log4j2.properties"
		"-Dkafka.logs.dir=$dir/logs"
	)
	# Format the log directory once, with a cluster id kept beside it.
	if [ ! -f "$dir/data/meta.properties" ]; then
		if [ ! -s "$dir/cluster.id" ]; then
			# A Kafka Uuid: 16 random bytes, URL-safe base64 without padding,
			# never starting with '-' (the storage tool would read an option).
			id=-
			while [ "${id#-}" != "$id" ]; do
				id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
			done
			echo "$id" >"$dir/cluster.id"
		fi
		id=$(cat "$dir/cluster.id")
		java "${java_opts[@]}" -cp "$KAFKA_JARS/*" kafka.tools.StorageTool format \
			--standalone -t "$id" -c "$dir/server.properties" >>"$dir/kafka.out" 2>&1 ||
			die "kafka: formatting $dir/data failed; see $dir/kafka.out"
	fi
	launch kafka "$dir/kafka.out" java "${java_opts[@]}" -cp "$KAFKA_JARS/*" \
		kafka.Kafka "$dir/server.properties"
}

kafka_ready() {
	timeout 10 kcat -L -b "127.0.0.1:$KAFKA_PORT" -m 3 2>/dev/null | grep -q ' 1 brokers:'
}

# ---------------------------------------------------------------- redis

redis_log() { echo "$STATE/redis/redis.log"; }

redis_start() {
	local dir="$STATE/redis"
	need_command redis redis-server
	need_command redis redis-cli
	check_ports redis "$REDIS_PORT"
	mkdir -p "$dir"
	cat >"$dir/redis.conf" <<-EOF
		# Written by scripts/stack.sh for instance $INSTANCE; rewritten on every start.
		bind 127.0.0.1
		port $REDIS_PORT
		protected-mode yes
		daemonize no
		dir "$dir"
		# Durable through the AOF only (DESIGN.md §1); no RDB snapshots.
		appendonly yes
		appendfsync everysec
		save ""
		logfile ""
		loglevel notice
	EOF
	launch redis "$dir/redis.log" redis-server "$dir/redis.conf"
}

redis_ready() {
	[ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

# ---------------------------------------------------------------- portal

portal_log() { echo "$STATE/portal/portal.log"; }

# portal_token - the instance's bearer token, made once
portal_token() {
	local file="$STATE/portal/token"
	if [ ! -s "$file" ]; then
		mkdir -p "$STATE/portal"
		(
			umask 077
			echo "dev-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')" >"$file.tmp"
			mv "$file.tmp" "$file"
		)
	fi
	cat "$file"
}

portal_start() {
	local dir="$STATE/portal"
	need_venv portal
	need_command portal curl
	check_ports portal "$PORTAL_PORT"
	portal_token >/dev/null
	launch portal "$dir/portal.log" "$VENV_PY" -u "$ROOT/tools/portal/portal.py" \
		--host 127.0.0.1 --port "$PORTAL_PORT" \
		--schema "$ROOT/deploy/scim/schemas.json" \
		--resource-type "$ROOT/deploy/scim/resource-types.json" \
		--bearer-token-file "$dir/token" --access-log "$dir/access.log"
}

portal_ready() {
	curl -fsS --max-time 3 -o /dev/null \
		"http://127.0.0.1:$PORTAL_PORT/_probe/v2/ServiceProviderConfig" 2>/dev/null
}

# ---------------------------------------------------------------- smtp

smtp_log() { echo "$STATE/smtp/smtp.log"; }

smtp_start() {
	need_venv smtp
	check_ports smtp "$SMTP_PORT"
	mkdir -p "$STATE/mail"
	launch smtp "$STATE/smtp/smtp.log" "$VENV_PY" -u "$ROOT/scripts/smtp_sink.py" \
		--host 127.0.0.1 --port "$SMTP_PORT" --maildir "$STATE/mail"
}

smtp_ready() {
	# SMTP greets first: wait for the 220 banner, then say goodbye.
	# shellcheck disable=SC2016 # expanded by the inner shell
	timeout 5 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		read -r -t 4 line <&3 || exit 1
		printf "QUIT\r\n" >&3
		[ "${line:0:3}" = 220 ]' _ "$SMTP_PORT" 2>/dev/null
}

# ---------------------------------------------------------------- lassim

LASSIM_PY="$ROOT/tools/lassim/lassim.py"

lassim_log() { echo "$STATE/lassim/lassim.out"; }

lassim_available() { [ -f "$LASSIM_PY" ]; }

# The simulator serves a scratch copy of fixtures/las kept in the instance's
# state (seeded on first start), so tests and the demo may add or change
# schools without touching the repository; LASYNC_LASSIM_FIXTURES overrides.
lassim_fixtures() {
	echo "${LASYNC_LASSIM_FIXTURES:-$STATE/las}"
}

# The HTTPS listener presents server.pem (127.0.0.1, localhost) and requires
# a client certificate signed by ca.pem, all made by scripts/certs.sh.
lassim_certs() {
	echo "${LASYNC_CERTS_DIR:-$LOCAL/certs}"
}

lassim_start() {
	local fixtures certs
	fixtures=$(lassim_fixtures)
	if [ ! -d "$fixtures" ]; then
		mkdir -p "$fixtures"
		cp -r "$ROOT/fixtures/las/." "$fixtures/"
	fi
	need_venv lassim
	check_ports lassim "$LASSIM_PORT" "$LASSIM_HTTPS_PORT"
	mkdir -p "$STATE/lassim"
	certs=$(lassim_certs)
	"$ROOT/scripts/certs.sh" --dir "$certs" 2>>"$STATE/lassim/lassim.out" ||
		die "lassim: scripts/certs.sh --dir $certs failed; see $STATE/lassim/lassim.out"
	launch lassim "$STATE/lassim/lassim.out" "$VENV_PY" -u "$LASSIM_PY" \
		--port "$LASSIM_PORT" --fixtures "$fixtures" --log "$STATE/lassim/lassim.log" \
		--https-port "$LASSIM_HTTPS_PORT" --cert "$certs/server.pem" --key "$certs/server.key" \
		--client-ca "$certs/ca.pem"
}

# Both listeners are bound before either serves: the plain one answering
# means the HTTPS one is there too (probing it would log a refused handshake).
lassim_ready() { port_in_use "$LASSIM_PORT"; }

# ---------------------------------------------------------------- generic

component_available() {
	if declare -F "$1_available" >/dev/null; then "$1_available"; else true; fi
}

component_timeout() {
	if [ -n "$TIMEOUT_OVERRIDE" ]; then
		echo "$TIMEOUT_OVERRIDE"
	elif [ "$1" = kafka ]; then
		echo 90
	else
		echo 30
	fi
}

# stop_timeout - seconds between SIGTERM and SIGKILL
stop_timeout() { if [ "$1" = kafka ]; then echo 60; else echo 15; fi; }

# fail_with_log - report a component that did not come up, with its log tail
fail_with_log() {
	local name=$1 why=$2 log
	log=$("${name}_log")
	if [ -s "$log" ]; then
		echo "---- last lines of $log" >&2
		tail -n 15 "$log" >&2
		echo "----" >&2
	fi
	die "$name ($INSTANCE): $why; see $log"
}

# wait_ready - wait until a started component answers, or fail
wait_ready() {
	local name=$1 limit deadline
	limit=$(component_timeout "$name")
	deadline=$((SECONDS + limit))
	while ! "${name}_ready"; do
		is_running "$name" || fail_with_log "$name" "exited while starting"
		[ "$SECONDS" -lt "$deadline" ] ||
			fail_with_log "$name" "not ready after ${limit}s (process still running)"
		sleep 0.25
	done
}

stop_component() {
	local name=$1 pid limit deadline
	pid=$(component_pid "$name") || {
		rm -f "$(pidfile "$name")"
		return 0
	}
	limit=$(stop_timeout "$name")
	deadline=$((SECONDS + limit))
	# The process leads its own process group (setsid): signal the group,
	# so helpers it started go with it.
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	while is_running "$name"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			say "$name: still running ${limit}s after SIGTERM; sending SIGKILL"
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
			sleep 0.5
			break
		fi
		sleep 0.2
	done
	is_running "$name" && die "$name: pid $pid survived SIGKILL"
	rm -f "$(pidfile "$name")"
	say "$name: stopped"
}

write_env() {
	local token
	token=$(portal_token)
	mkdir -p "$STATE"
	{
		printf 'export LASYNC_STACK_INSTANCE=%q\n' "$INSTANCE"
		printf 'export LASYNC_STACK_DIR=%q\n' "$STATE"
		printf 'export LASYNC_KAFKA_BROKERS=%q\n' "127.0.0.1:$KAFKA_PORT"
		printf 'export LASYNC_REDIS_URL=%q\n' "redis://127.0.0.1:$REDIS_PORT"
		printf 'export LASYNC_PORTAL_URL=%q\n' "http://127.0.0.1:$PORTAL_PORT"
		printf 'export LASYNC_PORTAL_TOKEN=%q\n' "$token"
		printf 'export LASYNC_LASSIM_URL=%q\n' "http://127.0.0.1:$LASSIM_PORT"
		printf 'export LASYNC_LASSIM_HTTPS_URL=%q\n' "https://127.0.0.1:$LASSIM_HTTPS_PORT"
		printf 'export LASYNC_CERTS_DIR=%q\n' "$(lassim_certs)"
		printf 'export LASYNC_SMTP_URL=%q\n' "smtp://127.0.0.1:$SMTP_PORT"
		printf 'export LASYNC_SMTP_MAILDIR=%q\n' "$STATE/mail"
		printf 'export LASYNC_LASSIM_FIXTURES=%q\n' "$(lassim_fixtures)"
	} >"$STATE/env.tmp"
	mv "$STATE/env.tmp" "$STATE/env"
}

lock_instance() {
	mkdir -p "$LOCAL/stack"
	exec 9>"$LOCAL/stack/$INSTANCE.lock"
	flock -w 300 9 || die "another stack.sh has held the lock of instance '$INSTANCE' for 5 minutes"
}

# ---------------------------------------------------------------- commands

cmd_start() {
	local name started=()
	[ "$RESET" -eq 0 ] || cmd_reset "$@"
	mkdir -p "$STATE"
	write_env
	for name in "$@"; do
		if is_running "$name"; then
			continue
		fi
		"${name}_start"
		started+=("$name")
	done
	for name in "$@"; do
		wait_ready "$name"
	done
	if [ "${#started[@]}" -gt 0 ]; then
		say "instance $INSTANCE: started ${started[*]}; all of $* ready (env: $STATE/env)"
	else
		say "instance $INSTANCE: $* already running"
	fi
}

cmd_stop() {
	local i
	for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
		if [[ " $* " == *" ${COMPONENTS[i]} "* ]]; then
			stop_component "${COMPONENTS[i]}"
		fi
	done
}

cmd_wait() {
	local name
	for name in "$@"; do
		is_running "$name" || die "$name ($INSTANCE): not running; start it with: $PROG start --instance $INSTANCE $name"
		wait_ready "$name"
	done
}

cmd_status() {
	local name pid state rc=0 where
	echo "instance $INSTANCE ($STATE)"
	for name in "$@"; do
		where=""
		if ! component_available "$name"; then
			printf '%-7s %-8s (not in this tree)\n' "$name" absent
			continue
		elif pid=$(component_pid "$name"); then
			if "${name}_ready"; then state=up; else state=starting rc=3; fi
			where="pid $pid"
		else
			state=down rc=3
		fi
		printf '%-7s %-8s %-10s log %s\n' "$name" "$state" "$where" "$("${name}_log")"
	done
	return "$rc"
}

cmd_reset() {
	local name
	cmd_stop "$@"
	if [ -z "$INSTANCE" ] || [ "$STATE" != "$LOCAL/stack/$INSTANCE" ]; then
		die "internal: bad state dir '$STATE'"
	fi
	if [ "$ALL" -eq 1 ]; then
		cmd_stop "${COMPONENTS[@]}" # lassim too, even when its file is gone
		rm -rf -- "$STATE"
	else
		for name in "$@"; do
			rm -rf -- "${STATE:?}/$name" "$(pidfile "$name")"
			[ "$name" != smtp ] || rm -rf -- "${STATE:?}/mail"
		done
	fi
	say "instance $INSTANCE: state of $* wiped"
}

main() {
	local command="" args=() selected=() name
	while [ $# -gt 0 ]; do
		case "$1" in
		--instance | -i)
			[ $# -ge 2 ] || usage_error "$1 needs a value"
			INSTANCE=$2
			shift
			;;
		--instance=*) INSTANCE=${1#*=} ;;
		--reset) RESET=1 ;;
		--timeout)
			[ $# -ge 2 ] || usage_error "$1 needs a value"
			TIMEOUT_OVERRIDE=$2
			shift
			;;
		--timeout=*) TIMEOUT_OVERRIDE=${1#*=} ;;
		-h | --help)
			sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
			exit 0
			;;
		-*) usage_error "unknown option '$1'" ;;
		*)
			if [ -z "$command" ]; then command=$1; else args+=("$1"); fi
			;;
		esac
		shift
	done
	[ -n "$command" ] || usage_error "no command given"
	[ -z "$TIMEOUT_OVERRIDE" ] || [[ "$TIMEOUT_OVERRIDE" =~ ^[1-9][0-9]*$ ]] ||
		usage_error "--timeout must be a positive number of seconds"
	set_instance "${INSTANCE:-${LASYNC_STACK_INSTANCE:-demo}}"
	PROG="stack.sh[$INSTANCE]"

	# Components: the named ones in start order, or every available one.
	[ "${#args[@]}" -eq 0 ] || ALL=0
	for name in "${args[@]}"; do
		[[ " ${COMPONENTS[*]} " == *" $name "* ]] ||
			usage_error "unknown component '$name' (${COMPONENTS[*]})"
	done
	for name in "${COMPONENTS[@]}"; do
		if [ "${#args[@]}" -eq 0 ]; then
			# stop and reset also cover an absent lassim that is still
			# running; status reports it absent
			case "$command" in stop | reset | status) selected+=("$name") ;; *)
				component_available "$name" && selected+=("$name") ;;
			esac
		elif [[ " ${args[*]} " == *" $name "* ]]; then
			if [ "$command" = start ] || [ "$command" = restart ]; then
				component_available "$name" ||
					die "$name: not available (for lassim: $LASSIM_PY does not exist)"
			fi
			selected+=("$name")
		fi
	done

	case "$command" in
	start)
		lock_instance
		cmd_start "${selected[@]}"
		;;
	stop)
		lock_instance
		cmd_stop "${selected[@]}"
		;;
	restart)
		lock_instance
		cmd_stop "${selected[@]}"
		cmd_start "${selected[@]}"
		;;
	wait) cmd_wait "${selected[@]}" ;;
	status) cmd_status "${selected[@]}" ;;
	env)
		write_env
		cat "$STATE/env"
		;;
	reset)
		lock_instance
		cmd_reset "${selected[@]}"
		;;
	*) usage_error "unknown command '$command'" ;;
	esac
}

main "$@"
