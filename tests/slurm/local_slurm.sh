#!/usr/bin/env bash
# A real Slurm (slurmctld, slurmd, munge) on this machine alone, for pp's Slurm test.
#
#   bash local_slurm.sh up DIR     # install if missing, configure under DIR, start, wait until idle
#   export SLURM_CONF=DIR/slurm.conf
#   sbatch --wait job.sh ...
#   bash local_slurm.sh down DIR   # stop exactly the daemons `up` started (their PIDs are in DIR)
#
# Everything lives under DIR: configuration, munge key and socket, state, spool, logs, PIDs; its
# own ports, so a site's Slurm on the same machine is left alone. The node declares 8 CPUs
# (SlurmdParameters=config_overrides) so that 4-task jobs run on a 2-core machine.
# `up` exits 77 with "skip: <reason>" when Slurm cannot be installed or started here (no root,
# no apt), so that a test can report itself skipped. Needs: Debian 12 (slurm-wlm 22.05, munge).
set -uo pipefail

skip() { echo "skip: $*" >&2; exit 77; }

install_if_missing() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && command -v sbatch >/dev/null && return 0
  [ "$(id -u)" -eq 0 ] || skip "Slurm is not installed and installing it needs root"
  command -v apt-get >/dev/null || skip "Slurm is not installed and there is no apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1; } ||
    skip "apt-get install slurm-wlm munge failed"
}

free_port() {  # a TCP port nothing listens on, from 16800 up
  local port
  for port in $(seq "$1" $(($1 + 200))); do
    ss -Hltn "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return; }
  done
  echo "$1"
}

write_config() {
  local dir=$1 host ctld_port slurmd_port
  host=$(hostname -s)
  ctld_port=$(free_port 16817)
  slurmd_port=$(free_port $((ctld_port + 1)))
  cat >"$dir/slurm.conf" <<CONF
ClusterName=pplocal
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket.2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
MailProg=/bin/true
ReturnToService=2
MinJobAge=4
KillWait=10
SlurmdParameters=config_overrides
NodeName=$host CPUs=8 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

up() {
  local dir=$1
  install_if_missing
  mkdir -p "$dir/munge" "$dir/state" "$dir/spool" || skip "cannot create $dir"
  dir=$(cd "$dir" && pwd)
  chmod a+rx "$dir"  # munged runs as the munge user and must reach its directory
  id munge >/dev/null 2>&1 || skip "no munge user (the munge package did not install it)"
  chown munge:munge "$dir/munge" && chmod 755 "$dir/munge"  # munged refuses a 700 directory
  if [ ! -s "$dir/munge/munge.key" ]; then
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$dir/munge/munge.key" && chmod 400 "$dir/munge/munge.key"
  fi
  write_config "$dir"
  export SLURM_CONF=$dir/slurm.conf
  setsid setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F --key-file="$dir/munge/munge.key" \
    --socket="$dir/munge/munge.socket.2" --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed" \
    >"$dir/munged.log" 2>&1 < /dev/null &
  echo $! >"$dir/munged.started"
  for _ in $(seq 1 100); do [ -S "$dir/munge/munge.socket.2" ] && break; sleep 0.1; done
  [ -S "$dir/munge/munge.socket.2" ] || { tail -5 "$dir/munged.log" >&2; skip "munged did not start"; }
  setsid /usr/sbin/slurmctld -D -f "$SLURM_CONF" >"$dir/slurmctld.out" 2>&1 < /dev/null &
  echo $! >"$dir/slurmctld.started"
  setsid /usr/sbin/slurmd -D -f "$SLURM_CONF" >"$dir/slurmd.out" 2>&1 < /dev/null &
  echo $! >"$dir/slurmd.started"
  for _ in $(seq 1 300); do
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && { echo "local Slurm up: export SLURM_CONF=$SLURM_CONF"; return 0; }
    sleep 0.1
  done
  echo "local Slurm did not become idle in 30 s; logs:" >&2
  tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 2>/dev/null
  down "$dir"
  return 1
}

down() {
  local dir=$1 name pid
  for name in slurmd slurmctld munged; do
    [ -f "$dir/$name.started" ] || continue
    pid=$(cat "$dir/$name.started")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    rm -f "$dir/$name.started"
  done
  return 0
}

case "${1:-}" in
  up) [ $# -eq 2 ] || { echo "usage: $0 up DIR" >&2; exit 2; }; up "$2" ;;
  down) [ $# -eq 2 ] || { echo "usage: $0 down DIR" >&2; exit 2; }; down "$2" ;;
  *) echo "usage: $0 up|down DIR" >&2; exit 2 ;;
esac
