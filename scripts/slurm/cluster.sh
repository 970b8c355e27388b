#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for testing the job-array scripts beside this file.
#   cluster.sh start [--force]   install slurm-wlm and munge if missing (apt-get), create the munge
#                                key, write /etc/slurm/slurm.conf (only one written by this script,
#                                unless --force), start munged, slurmctld and slurmd (no systemd
#                                needed) and wait until the node is idle. Safe to run twice.
#   cluster.sh stop              stop slurmd, slurmctld and munged.
# The node gets nproc CPUs as cores (CR_Core, so 1-CPU array tasks run side by side) and no
# cgroup plugins (proctrack/linuxproc, task/none), so it runs in containers without cgroup access.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by twinverify scripts/slurm/cluster.sh"
LOG=/var/log/slurm
RUN=/run/slurm
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

die() { echo "cluster.sh: $*" >&2; exit 1; }
running() { [ -s "$1" ] && $SUDO kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
  if dpkg -s slurm-wlm munge >/dev/null 2>&1 && command -v slurmctld slurmd sbatch munged >/dev/null; then
    return
  fi
  echo "installing slurm-wlm and munge with apt-get"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
  command -v slurmctld slurmd sbatch munged >/dev/null \
    || die "slurmctld, slurmd, sbatch or munged still missing after apt-get install slurm-wlm munge"
}

start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    $SUDO mkdir -p /etc/munge
    $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  $SUDO chown munge:munge /etc/munge /etc/munge/munge.key
  $SUDO chmod 700 /etc/munge
  $SUDO chmod 400 /etc/munge/munge.key
  $SUDO mkdir -p /run/munge /var/log/munge /var/lib/munge
  $SUDO chown munge:munge /run/munge /var/log/munge /var/lib/munge
  if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    $SUDO runuser -u munge -- munged
    for _ in $(seq 20); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return; sleep 0.5; done
    die "munged did not start: $(tail -n 5 /var/log/munge/munged.log 2>/dev/null)"
  fi
}

write_conf() {
  if [ -e "$CONF" ] && ! grep -qxF "$MARK" "$CONF" && [ "${1:-}" != "--force" ]; then
    die "$CONF was not written by this script; move it away or pass --force"
  fi
  local node mem new
  node=$(hostname -s)
  mem=$(awk '/MemTotal/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
  new=$(cat <<EOF
$MARK
ClusterName=twinverify
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=kill_invalid_depend,batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) Sockets=1 CoresPerSocket=$(nproc) ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
)
  if [ -e "$CONF" ] && [ "$(cat "$CONF")" = "$new" ]; then return; fi
  echo "writing $CONF"
  stop_slurm # daemons running on an older configuration are restarted
  $SUDO mkdir -p /etc/slurm
  printf '%s\n' "$new" | $SUDO tee "$CONF" >/dev/null
}

node_state() { sinfo -h -N -o '%T' 2>/dev/null | head -n 1; }

start_slurm() {
  $SUDO mkdir -p "$LOG" "$RUN" /var/spool/slurmctld /var/spool/slurmd
  running "$RUN/slurmctld.pid" || $SUDO slurmctld
  running "$RUN/slurmd.pid" || $SUDO slurmd
  local state=""
  for _ in $(seq 60); do
    state=$(node_state)
    case "$state" in
      idle|mixed|allocated) echo "slurm node $(hostname -s) is $state"; return ;;
      down*|drain*) $SUDO scontrol update NodeName="$(hostname -s)" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 1
  done
  echo "slurm node not idle after 60 s (state: ${state:-none}); log tails:" >&2
  tail -n 20 "$LOG/slurmctld.log" "$LOG/slurmd.log" >&2 || true
  exit 1
}

stop_one() {
  local pidfile=$1 pid
  running "$pidfile" || return 0
  pid=$(cat "$pidfile")
  $SUDO kill "$pid"
  for _ in $(seq 30); do $SUDO kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  die "process $pid from $pidfile did not stop"
}

stop_slurm() { stop_one "$RUN/slurmd.pid"; stop_one "$RUN/slurmctld.pid"; }

case "${1:-}" in
  start)
    install_packages
    write_conf "${2:-}"
    start_munge
    start_slurm ;;
  stop)
    stop_slurm
    stop_one /run/munge/munged.pid
    echo "slurm and munge stopped" ;;
  *) die "usage: cluster.sh start [--force] | stop" ;;
esac
