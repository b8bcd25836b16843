# harness.sh - a real, private Slurm (Debian slurm-wlm 22.05 + munge) on this
# machine for the tests, as root, without systemd. Source it, then:
#
#   slurm_start DIR   start munged, slurmctld and slurmd with everything (config,
#                     keys, sockets, state, logs, fake GPU device files) under DIR;
#                     exports SLURM_CONF. Returns 0 when the node is idle and takes
#                     jobs; else 1 with the reason in SLURM_WHY (the caller skips).
#   slurm_start_nodes DIR N
#                     the same with N (<= 9) compute nodes pnp-node1..N, each slurmd in its
#                     own network namespace (an address on a private bridge, made
#                     for this cluster) and UTS namespace (its node name as host
#                     name), slurmctld and munged in this machine's; 0 when the N
#                     nodes are idle, else 1 with SLURM_WHY (also when namespaces
#                     cannot be made: no root, no iproute2, no CAP_SYS_ADMIN).
#   slurm_wait_jobs SECONDS ID[,ID...]
#                     wait until none of the jobs is queued or running; 1 on timeout
#   slurm_job_state ID
#                     the job's state (COMPLETED, FAILED, ...; kept 600 s after it ends)
#   slurm_stop        stop the daemons slurm_start started (by their pid files),
#                     delete the namespaces and links; safe to call twice. Callers
#                     put it in their EXIT trap.
#
# A node claims 8 CPUs and 4 GPUs whatever this machine has
# (SlurmdParameters=config_overrides). Facts this relies on (../shared/DESIGN.md
# section 6): Slurm 22.05 drops a gpu GRES without device files, so the GPUs
# are character devices made with mknod (1,3: what /dev/null is) listed in
# gres.conf with Flags=no_gpu_env (no CUDA_VISIBLE_DEVICES for fake GPUs);
# proctrack/linuxproc and task/none need no cgroups; an Open MPI program
# started by a bare srun needs MpiDefault=pmix. Ports are chosen free at start,
# munge has its own socket, so a second harness (or a site Slurm) is not disturbed.
# Found with the namespaced nodes (slurm_start_nodes), all on one file system:
# - the pmix plugin makes TmpFS/spmix_appdir_<uid>_<job>.<step> on every node;
#   with the default TmpFS=/tmp the second node's step fails ("File exists"), and
#   so would two concurrent harnesses (job ids start at 1 in each): TmpFS is
#   DIR/tmp/<node> (%n), as are the spool, pid and log files of each slurmd;
# - Open MPI needs no MCA setting: it takes which ranks share a node from PMIx,
#   i.e. Slurm's node names, so ranks on two nodes talk through the tcp BTL over
#   the bridge (each namespace has only lo, which tcp skips, and eth0), never
#   through shared memory, though both see the same /dev/shm;
# - pnp records the hosts from gethostname(), so without a UTS namespace per
#   slurmd both nodes would report this machine's name.

SLURM_WHY=""
SLURM_DIR=""
SLURM_NETNS=() # network namespaces and links slurm_start_nodes made, for slurm_stop
SLURM_LINKS=()

_slurm_free_ports() { # two distinct free TCP ports (both sockets held until both are known)
    python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])'
}

_slurm_fail() { # _slurm_fail REASON [LOG]: set SLURM_WHY (with the log's last lines), return 1
    SLURM_WHY=$1
    [ -n "${2:-}" ] && [ -s "$2" ] && SLURM_WHY="$SLURM_WHY; $(basename "$2"): $(tail -3 "$2" | tr '\n' ' ')"
    return 1
}

_slurm_begin() { # _slurm_begin DIR: tools, root, folders, munged; the parts every layout shares
    local dir=$1 p
    for p in munged slurmctld slurmd sbatch squeue scontrol mungekey; do
        command -v "$p" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$p" >/dev/null 2>&1 ||
            { _slurm_fail "$p not installed (Debian packages slurm-wlm munge: bash scripts/deps.sh)"; return 1; }
    done
    export PATH="$PATH:/usr/sbin:/sbin"
    [ "$(id -u)" -eq 0 ] || { _slurm_fail "the test Slurm runs its daemons as root (running as uid $(id -u))"; return 1; }
    SLURM_DIR=$dir
    mkdir -p "$dir/state" "$dir/spool" "$dir/dev" "$dir/munge" || { _slurm_fail "cannot create $dir"; return 1; }
    chmod 700 "$dir" "$dir/munge"

    # munge: a private key, socket and daemon (--force: munged otherwise refuses a
    # socket whose folder others cannot enter, and DIR is usually mktemp's 0700)
    mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null 2>&1 ||
        dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.sock" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed" >"$dir/munge/start.log" 2>&1 ||
        { _slurm_fail "munged did not start" "$dir/munge/start.log"; return 1; }

    # fake GPU device files: gres.conf needs File= for Slurm 22.05 to keep the GRES
    local i
    for i in 0 1 2 3; do
        mknod "$dir/dev/nvidia$i" c 1 3 2>"$dir/mknod.log" || { _slurm_fail "mknod failed" "$dir/mknod.log"; return 1; }
    done
}

_slurm_conf() { # _slurm_conf CTL_ADDR NODE:ADDR...: slurm.conf and gres.conf (4 fake GPUs a node); exports SLURM_CONF
    local dir=$SLURM_DIR ctl_addr=$1 host ctl_port d_port n nodes="" node
    shift
    host=$(hostname -s)
    read -r ctl_port d_port < <(_slurm_free_ports) && [ -n "$d_port" ] || { _slurm_fail "no free TCP port"; return 1; }
    cat >"$dir/slurm.conf" <<CONF
# generated by tests/slurm/harness.sh
ClusterName=pnptest
SlurmctldHost=$host($ctl_addr)
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd-%n.log
TmpFS=$dir/tmp/%n
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
MpiDefault=pmix
SlurmdParameters=config_overrides
SchedulerType=sched/builtin
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SwitchType=switch/none
ReturnToService=2
InactiveLimit=0
KillWait=5
MinJobAge=600
SlurmdTimeout=300
CONF
    : >"$dir/gres.conf"
    for n in "$@"; do
        node=${n%%:*}
        echo "NodeName=$node NodeAddr=${n#*:} CPUs=8 RealMemory=2000 Gres=gpu:4 State=UNKNOWN" >>"$dir/slurm.conf"
        echo "NodeName=$node Name=gpu File=$dir/dev/nvidia[0-3] Flags=no_gpu_env" >>"$dir/gres.conf"
        nodes+=${nodes:+,}$node
        mkdir -p "$dir/tmp/$node"
    done
    echo "PartitionName=pnp Nodes=$nodes Default=YES MaxTime=INFINITE State=UP" >>"$dir/slurm.conf"
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -i -f "$SLURM_CONF" >"$dir/slurmctld.start" 2>&1 ||
        { _slurm_fail "slurmctld did not start" "$dir/slurmctld.log"; return 1; }
}

_slurm_wait_idle() { # _slurm_wait_idle N: up to 30 s for N idle nodes
    local idle="" i
    for i in $(seq 60); do
        idle=$(sinfo -h -N -t idle -o '%N' 2>/dev/null | wc -l)
        [ "$idle" -eq "$1" ] && return 0
        sleep 0.5
    done
    _slurm_fail "$idle of $1 nodes became idle ($(sinfo -h -N -o '%N %t' 2>/dev/null | tr '\n' ' '))" \
        "$(ls "$SLURM_DIR"/slurmd-*.log 2>/dev/null | head -1)"
}

slurm_start() {
    local host
    _slurm_begin "$1" || return 1
    host=$(hostname -s)
    _slurm_conf 127.0.0.1 "$host:127.0.0.1" || return 1
    slurmd -f "$SLURM_CONF" >"$SLURM_DIR/slurmd.start" 2>&1 ||
        { _slurm_fail "slurmd did not start" "$SLURM_DIR/slurmd-$host.log"; return 1; }
    _slurm_wait_idle 1
}

slurm_start_nodes() { # slurm_start_nodes DIR N (see the header)
    local dir=$1 count=$2 p i net="" cand suffix ns node veth
    for p in ip nsenter unshare hostname; do
        command -v "$p" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$p" >/dev/null 2>&1 ||
            { _slurm_fail "$p not installed (Debian packages iproute2 util-linux hostname: bash scripts/deps.sh)"; return 1; }
    done
    _slurm_begin "$dir" || return 1
    # the bridge: its name has this shell's pid and a random part (ip refuses a name in
    # use: a concurrent harness, even one in another pid namespace, tries another);
    # its /24 is one in 10.0.0.0/8 that no route here covers (but the default one)
    for _ in $(seq 20); do
        suffix=$$$((RANDOM % 100))
        cand="10.$((RANDOM % 254 + 1)).$((RANDOM % 254 + 1))"
        [ -z "$(ip -4 route show to match "$cand.1" | grep -v '^default')" ] || continue
        ip link add "pnpbr$suffix" type bridge 2>"$dir/ip.log" && { net=$cand; break; }
        grep -qi 'exists' "$dir/ip.log" || break
    done
    [ -n "$net" ] || { _slurm_fail "cannot create a network bridge (needs CAP_NET_ADMIN)" "$dir/ip.log"; return 1; }
    local bridge=pnpbr$suffix nodes=()
    SLURM_LINKS+=("$bridge")
    { ip addr add "$net.1/24" dev "$bridge" && ip link set "$bridge" up; } 2>"$dir/ip.log" ||
        { _slurm_fail "cannot set up the bridge $bridge" "$dir/ip.log"; return 1; }
    # node i: namespace pnp<suffix>-n<i>, the address .i+1 on its end of a veth pair
    # (named eth0 in there), the other end on the bridge
    for i in $(seq "$count"); do
        ns=pnp$suffix-n$i
        veth=pnpv$suffix-$i
        { ip netns add "$ns" && SLURM_NETNS+=("$ns") &&
            ip link add "$veth" type veth peer name "pnpe$suffix-$i" && SLURM_LINKS+=("$veth") &&
            ip link set "$veth" master "$bridge" up &&
            ip link set "pnpe$suffix-$i" netns "$ns" name eth0 &&
            ip -n "$ns" addr add "$net.$((i + 1))/24" dev eth0 &&
            ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up; } 2>"$dir/ip.log" ||
            { _slurm_fail "cannot make network namespace $ns" "$dir/ip.log"; return 1; }
        nodes+=("pnp-node$i:$net.$((i + 1))")
    done
    _slurm_conf "$net.1" "${nodes[@]}" || return 1
    # nsenter --net, not `ip netns exec`: that one also remounts /sys, where slurmd
    # then finds no /sys/fs/cgroup and refuses to start
    for i in $(seq "$count"); do
        node=pnp-node$i
        nsenter --net="/run/netns/${SLURM_NETNS[$((i - 1))]}" unshare --uts \
            sh -c 'hostname "$1" && exec slurmd -f "$2" -N "$1"' sh "$node" "$SLURM_CONF" \
            >"$dir/slurmd-$node.start" 2>&1 || { _slurm_fail "slurmd $node did not start" "$dir/slurmd-$node.log"; return 1; }
    done
    _slurm_wait_idle "$count" || return 1
    # node 1 reaches the other nodes' slurmd: the path between ranks, bridged from
    # port to port (unlike slurmctld's to the nodes), which a firewall on bridged
    # traffic (br_netfilter) would block, making jobs hang instead
    local port
    port=$(sed -n 's/^SlurmdPort=//p' "$SLURM_CONF")
    for i in $(seq 2 "$count"); do
        nsenter --net="/run/netns/${SLURM_NETNS[0]}" python3 -c \
            'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)' \
            "$net.$((i + 1))" "$port" 2>"$dir/reach.log" ||
            { _slurm_fail "pnp-node1 cannot reach pnp-node$i at $net.$((i + 1)):$port (bridged traffic filtered?)" \
                "$dir/reach.log"; return 1; }
    done
}

slurm_wait_jobs() {
    local t
    for t in $(seq $((2 * $1))); do
        [ -z "$(squeue -h -j "$2" 2>/dev/null)" ] && return 0
        sleep 0.5
    done
    return 1
}

slurm_job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }

slurm_stop() {
    local f pid ns
    if [ -n "$SLURM_DIR" ]; then
        # jobs first (their slurmstepd would outlive slurmd), up to 10 s
        if [ -s "$SLURM_DIR/slurmctld.pid" ]; then
            squeue -h -o %A 2>/dev/null | xargs -r scancel 2>/dev/null
            for _ in $(seq 20); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
        fi
        local daemons=("$SLURM_DIR"/slurmd-*.pid "$SLURM_DIR/slurmctld.pid" "$SLURM_DIR/munge/munged.pid")
        for f in "${daemons[@]}"; do
            pid=$(cat "$f" 2>/dev/null) || continue
            kill "$pid" 2>/dev/null
        done
        for f in "${daemons[@]}"; do # give them 10 s, then insist
            pid=$(cat "$f" 2>/dev/null) || continue
            for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
        done
        SLURM_DIR=""
    fi
    # links first (deleting one end of a veth pair deletes both): a namespace's own
    # links would otherwise go some time after `ip netns del` returns
    for f in "${SLURM_LINKS[@]}"; do ip link del "$f" 2>/dev/null; done
    for ns in "${SLURM_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    SLURM_LINKS=() SLURM_NETNS=()
}
