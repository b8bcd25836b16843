# test_two_nodes.sh - a real multi-node run: `pnp grid --submit` of a
# `slurm_nodes: 2` row (one rank per node, distributed physics and tiled
# denoiser) on a private Slurm with two compute nodes on this machine, each
# slurmd in its own network and UTS namespace (tests/slurm/harness.sh
# slurm_start_nodes: a bridge, a veth and an address per node). Checks that
# Slurm placed one rank on each node, that the result file names both hosts,
# that the ranks talked through Open MPI's tcp BTL across the nodes' addresses
# (not shared memory), and that the result equals the same row run on one node
# with one rank (max abs 1e-6, PSNR traces 1e-4 dB).
# Where namespaces (or Slurm) cannot be made it prints "skip - two-node Slurm: why".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../slurm/harness.sh"
trap 'slurm_stop; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM # through the EXIT trap: daemons stop, namespaces and links go
unset SLURM_JOB_ID
PNP=$(realpath "$PNP")

GRID=configs/highres_imaging.yml # row 0: gpu:1, 1 task per node, 1 node
R=highres_imaging_row0.h5
row=(--row 0 --set backend=cpu --set image_size=64 --set max_iter=2 --set denoiser=drunet:8,16,32,64:1
    --set distribute_physics=true --set distribute_denoiser=true --set patch_size=32 --set overlap=8)

if ! slurm_start_nodes "$TMP/slurm" 2; then
    echo "skip - two-node Slurm: $SLURM_WHY"
    exit 0
fi
check "two Slurm nodes, each in its own network namespace, idle" \
    bash -c "[ \"\$(sinfo -h -N -o '%N %t' | sort | tr '\n' ' ')\" = 'pnp-node1 idle pnp-node2 idle ' ]"

# the row on one node (one rank): the reference
"$PNP" run "$GRID" "${row[@]}" --out "$TMP/one" >"$TMP/one.log" 2>&1 || sed 's/^/#   /' "$TMP/one.log"

# the row on two nodes; Open MPI's verbose BTL lines (sbatch passes the environment
# on) say which transport each rank uses to reach the other
OMPI_MCA_btl_base_verbose=100 "$PNP" grid "$GRID" --submit --out "$TMP/two" "${row[@]}" --set slurm_nodes=2 \
    >"$TMP/sub.log" 2>&1
id=$(sed -n 's/^row 0: job \([0-9]*\) .*/\1/p' "$TMP/sub.log")
log="$TMP/two/slurm/highres_imaging_row0-$id.out"
check "--submit of slurm_nodes=2: job $id, 1 task per node x 2 nodes" \
    grep -qF "row 0: job $id (gpu:1, 1 task per node x 2 nodes): result $TMP/two/$R" "$TMP/sub.log" ||
    sed 's/^/#   /' "$TMP/sub.log"
check "the job ends within 60 s" slurm_wait_jobs 60 "$id"
check "job $id COMPLETED on the two nodes (NodeList pnp-node[1-2])" bash -c \
    "[ '$(slurm_job_state "$id")' = COMPLETED ] && scontrol show job $id | grep -q ' NodeList=pnp-node\[1-2\]' &&
     grep -q '^wrote $TMP/two/$R' '$log'" || { grep -v '^\[' "$log" 2>&1 | tail -5 | sed 's/^/#   /'; }
check "pnp saw 2 ranks on 2 hosts (result: ranks 2, hosts pnp-node1,pnp-node2, slurm_job_id $id)" \
    $PY -c "import h5py, sys
a = h5py.File(sys.argv[1], 'r').attrs
sys.exit(not (int(a['ranks']) == 2 and a['hosts'] == 'pnp-node1,pnp-node2' and str(a['slurm_job_id']) == sys.argv[2]))" \
    "$TMP/two/$R" "$id"
check "each rank reaches the other through the tcp BTL between the nodes' addresses" bash -c \
    "grep -q '^\[pnp-node1:[0-9]*\] mca: bml: Using tcp btl for send to .* on node pnp-node2' '$log' &&
     grep -q '^\[pnp-node2:[0-9]*\] mca: bml: Using tcp btl for send to .* on node pnp-node1' '$log' &&
     grep -q 'btl:tcp: now connected to 10\.[0-9.]*' '$log'" || grep 'bml' "$log" | sed 's/^/#   /'
$PY tests/cli/check_run.py same "$TMP/one/$R" "$TMP/two/$R" 1e-6 \
    "2 nodes x 1 rank = 1 node x 1 rank (distributed physics, tiled denoiser)" || status=1
exit $status
