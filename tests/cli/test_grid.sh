# test_grid.sh - `pnp grid`: one job per grid row.
#  - --dry-run: the sbatch scripts (resources from the row, slurm_* keys and
#    slurm_extra lines, USR1 before the time limit, job name, log), that bash
#    reads them, that srun gets exactly pnp's arguments (--set values with
#    quotes and spaces survive), that the script forwards USR1 and returns
#    srun's status (a fake srun);
#  - bad grids, bad slurm keys and a bad mode are refused before anything is
#    written (exit 2);
#  - --local: the benchmark's grid (rows gpu:1/2/4) on a tiny CPU problem with
#    mpirun, the results and their PSNR;
#  - --submit on a REAL Slurm (tests/slurm/harness.sh: slurmctld, slurmd and
#    munge on this machine, a node with 4 fake GPUs): the three rows run as
#    jobs, their results carry row and job id, gpu:5 and an unknown partition
#    are refused naming the row, USR1 sent to a running job reaches the ranks;
#    the checked-in examples slurm/*.sbatch submitted by hand run too.
#    When Slurm cannot start here, those checks print "skip - ...: why".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../slurm/harness.sh"
trap 'slurm_stop; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM # through the EXIT trap: the daemons stop
unset SLURM_JOB_ID # a test run inside a Slurm job must not see it in --local results
PNP=$(realpath "$PNP") # as the scripts name it (/proc/self/exe)

GRID=configs/highres_imaging.yml
GRID_ABS=$(realpath "$GRID")
tiny=(--set backend=cpu --set image_size=64 --set max_iter=2 --set denoiser=drunet:8,16,32,64:1)

# ------------------------------------------------------------------ --dry-run
# files a row names must exist when the grid is written: an image with a quote and spaces in its name
odd_image="$TMP/it's a b.png"
: >"$odd_image"
"$PNP" grid "$GRID" --dry-run --out "$TMP/dry" "${tiny[@]}" --set slurm_time=01:30:00 \
    --set slurm_partition=gpu --set slurm_account=proj42 --set slurm_cpus_per_task=8 \
    --set "slurm_extra=--qos=high; -C a100 --exclusive" --set "image=$odd_image" >"$TMP/dry.out" 2>&1
check "--dry-run: exit 0, three scripts written" \
    bash -c "[ $? -eq 0 ] && [ \$(ls '$TMP/dry/slurm' | grep -c 'highres_imaging_row[012].sbatch') -eq 3 ]"
s1="$TMP/dry/slurm/highres_imaging_row1.sbatch"
check "--dry-run: the scripts are printed" \
    bash -c "grep -q '^==> $s1 <==' '$TMP/dry.out' && grep -q 'not submitted' '$TMP/dry.out'"
check "--dry-run: nothing else written (no results)" bash -c "[ -z \"\$(ls '$TMP/dry' | grep -v slurm)\" ]"
for line in "--job-name=highres_imaging_row1" "--nodes=1" "--ntasks-per-node=2" "--gres=gpu:2" "--time=01:30:00" \
    "--partition=gpu" "--account=proj42" "--cpus-per-task=8" "--qos=high" "-C a100" "--exclusive" \
    "--signal=B:USR1@120" "--output=$TMP/dry/slurm/highres_imaging_row1-%j.out"; do
    check "script row 1: #SBATCH $line" grep -qxF -- "#SBATCH $line" "$s1"
done
check "script row 2: --gres=gpu:4 --ntasks-per-node=4" bash -c \
    "grep -qx '#SBATCH --gres=gpu:4' '$TMP/dry/slurm/highres_imaging_row2.sbatch' &&
     grep -qx '#SBATCH --ntasks-per-node=4' '$TMP/dry/slurm/highres_imaging_row2.sbatch'"
check "script: bash reads it (bash -n)" bash -n "$s1"
check "script: #SBATCH lines come before the first command" \
    bash -c "awk '/^#SBATCH/ { if (cmd) bad = 1 } /^[^#]/ && NF { cmd = 1 } END { exit bad }' '$s1'"
check "script: srun --mpi=pmix of the absolute pnp and config" grep -q "^srun --mpi=pmix $PNP run $GRID_ABS " "$s1"

# srun gets exactly `pnp run CONFIG --row 1 --out DIR --set ...` (a fake srun prints its arguments)
mkdir -p "$TMP/fake"
cat >"$TMP/fake/srun" <<'EOF'
#!/bin/bash
printf '%s\n' "$@" >"$FAKE_ARGS"
[ -n "${FAKE_WAIT:-}" ] || exit 3
trap 'echo "srun got USR1" >>"$FAKE_ARGS.usr1"; exit 5' USR1
touch "$FAKE_WAIT"
for _ in $(seq 100); do sleep 0.1; done
exit 4
EOF
chmod +x "$TMP/fake/srun"
FAKE_ARGS="$TMP/args" PATH="$TMP/fake:$PATH" bash "$s1" >"$TMP/fake.log" 2>&1
rc=$?
printf '%s\n' --mpi=pmix "$PNP" run "$GRID_ABS" --row 1 --out "$TMP/dry" "${tiny[@]}" --set slurm_time=01:30:00 \
    --set slurm_partition=gpu --set slurm_account=proj42 --set slurm_cpus_per_task=8 \
    --set "slurm_extra=--qos=high; -C a100 --exclusive" --set "image=$odd_image" >"$TMP/args.want"
check "script: srun gets pnp's arguments word for word (quotes and spaces kept)" cmp -s "$TMP/args" "$TMP/args.want"
check "script: exits with srun's status ($rc)" test "$rc" -eq 3
# USR1 to the batch shell (what --signal=B:USR1@120 does) reaches srun; the script waits for srun to end
FAKE_ARGS="$TMP/args2" FAKE_WAIT="$TMP/started" PATH="$TMP/fake:$PATH" bash "$s1" >"$TMP/usr1.log" 2>&1 &
shell=$!
for _ in $(seq 100); do [ -e "$TMP/started" ] && break; sleep 0.1; done
kill -USR1 $shell
wait $shell
rc=$?
check "script: USR1 forwarded to srun, then srun's own status ($rc)" \
    bash -c "[ $rc -eq 5 ] && grep -q 'forwarding it to the ranks' '$TMP/usr1.log' && grep -q 'srun got USR1' '$TMP/args2.usr1'"

injected="pnp-injected-$$" # the script runs in this folder: a command in the comment would make this file
nl_image="$TMP/x"$'\n'"touch $injected" # a file name with a newline (it must exist)
: >"$nl_image"
"$PNP" grid "$GRID" --out "$TMP/nl" --row 1 --set "image=$nl_image" >/dev/null 2>&1
FAKE_ARGS="$TMP/nlargs" PATH="$TMP/fake:$PATH" bash "$TMP/nl/slurm/highres_imaging_row1.sbatch" >/dev/null 2>&1
check "a newline in a --set value: harmless in the comment, kept in srun's argument" \
    bash -c "[ ! -e '$injected' ] && grep -qx 'image=$TMP/x' '$TMP/nlargs' && grep -q '^#   .*image=$TMP/x?touch' '$TMP/nl/slurm/highres_imaging_row1.sbatch'"
rm -f "$injected"

"$PNP" grid "$GRID" --out "$TMP/nogres" --row 0 --set slurm_gres= >"$TMP/nogres.out" 2>&1
check "a row without slurm_gres: no --gres line; --row K writes that row only (default mode: dry run)" \
    bash -c "[ $? -eq 0 ] && ! grep -q -- '--gres' '$TMP/nogres/slurm/highres_imaging_row0.sbatch' &&
             [ \$(ls '$TMP/nogres/slurm' | wc -l) -eq 1 ]"
"$PNP" grid --out "$TMP/default" >/dev/null 2>&1
check "no CONFIG: the embedded default, srun of pnp run without a config" \
    grep -q "^srun --mpi=pmix $PNP run --row 0 --out $TMP/default" "$TMP/default/slurm/default_row0.sbatch"

for ex in slurm/*.sbatch; do
    check "checked-in example $ex: bash reads it, asks for gpu:N with N tasks per node and USR1" bash -c \
        "bash -n $ex && n=\$(sed -n 's/^#SBATCH --gres=gpu://p' $ex) && grep -qx \"#SBATCH --ntasks-per-node=\$n\" $ex &&
         grep -q '^#SBATCH --signal=B:USR1@120' $ex"
done

# ------------------------------------------------------------------ refusals
refused() { # refused WHAT WANT ARGS...: exit 2, WANT in the message, nothing written under $TMP/ref
    local what=$1 want=$2
    shift 2
    "$PNP" grid "$@" --out "$TMP/ref" >"$TMP/ref.log" 2>&1
    local rc=$? ok=false
    [ $rc -eq 2 ] && grep -qF -- "$want" "$TMP/ref.log" && [ ! -e "$TMP/ref" ] && ok=true
    check "$what: exit 2 ($rc), '$want', nothing written" $ok || sed 's/^/#   /' "$TMP/ref.log"
}
for mode in --dry-run --submit --local; do
    refused "bad grid (ntasks != gres), $mode" "bad_gres.yml:8:19: row 1: slurm_ntasks_per_node is 4 but slurm_gres 'gpu:2' asks for 2 GPUs" \
        tests/configs/bad_gres.yml $mode
done
refused "bad grid (nodes 0)" "bad_nodes.yml:6:20: row 0: slurm_nodes must be >= 1" tests/configs/bad_nodes.yml --submit
cat >"$TMP/qos.yml" <<'EOF'
dataset:
  - highres_color_image: {image_size: 64}
solver:
  - PnP:
      slurm_qos: high
EOF
refused "unknown slurm key" "qos.yml:5:7: unknown key 'slurm_qos' for solver 'PnP'" "$TMP/qos.yml" --submit
check "unknown slurm key: the message says where sbatch options go" grep -q "go in slurm_extra" "$TMP/ref.log"
refused "--set breaking one gpu per rank" "row 0: slurm_ntasks_per_node is 3 but slurm_gres 'gpu:1'" "$GRID" \
    --set slurm_ntasks_per_node=3
refused "slurm_extra with an option pnp writes" "row 0: slurm_extra: '--time=10': pnp grid writes --time from slurm_time" \
    "$GRID" --set slurm_extra=--time=10
refused "slurm_extra with quotes" "slurm_extra: '--comment=\"a': quotes" "$GRID" '--set' 'slurm_extra=--comment="a b"'
refused "slurm_time not a time" "slurm_time '2h' is not a Slurm time limit" "$GRID" --set slurm_time=2h
refused "two modes" "choose one of --dry-run, --submit, --local" "$GRID" --submit --local
refused "--row past the grid" "has 3 rows" "$GRID" --row 3
env PATH="$TMP/fake" "$PNP" grid "$GRID" --submit --out "$TMP/nosb" >"$TMP/nosb.log" 2>&1
check "--submit without sbatch on PATH: exit 1, says so, writes nothing" \
    bash -c "[ $? -eq 1 ] && grep -q 'sbatch, which is not on PATH' '$TMP/nosb.log' && [ ! -e '$TMP/nosb' ]"
"$PNP" grid --help >"$TMP/help" 2>&1 && "$PNP" help grid >"$TMP/help2" 2>&1 && "$PNP" help >"$TMP/help3" 2>&1
check "pnp grid --help, pnp help grid, pnp help lists grid" \
    bash -c "grep -q 'usage: pnp grid' '$TMP/help' && grep -q 'usage: pnp grid' '$TMP/help2' && grep -q '^  grid ' '$TMP/help3'"

# ------------------------------------------------------------------ --local
timeout 300 "$PNP" grid "$GRID" --local --out "$TMP/local" "${tiny[@]}" >"$TMP/local.log" 2>&1
check "--local: the 3 rows run one after another (exit $?)" \
    bash -c "[ \$(grep -c '^wrote ' '$TMP/local.log') -eq 3 ] && grep -q '3 rows done' '$TMP/local.log'" ||
    tail -20 "$TMP/local.log" | sed 's/^/#   /'
root=""; [ "$(id -u)" -eq 0 ] && root="--allow-run-as-root "
# --oversubscribe appears past the physical core count, which this test does not recount
over="(--oversubscribe )?"
check "--local: mpirun -n 1/2/4 ${root}with the row and the overrides" bash -c \
    "grep -qE 'mpirun ${root}${over}-n 1 $PNP run $GRID --row 0 --out $TMP/local --set backend=cpu' '$TMP/local.log' &&
     grep -qE 'mpirun ${root}${over}-n 2 $PNP run $GRID --row 1' '$TMP/local.log' &&
     grep -qE 'mpirun ${root}${over}-n 4 $PNP run $GRID --row 2' '$TMP/local.log'"
$PY tests/cli/check_grid.py "--local" "$TMP/local" highres_imaging 0::1 1::2 2::4 || status=1
"$PNP" grid "$GRID" --local --out "$TMP/lmiss" "${tiny[@]}" --set weights="$TMP/missing.h5" >"$TMP/lmiss.log" 2>&1
check "--local: a row naming a missing weights file is refused before anything runs (exit $?)" \
    bash -c "[ $? -eq 2 ] && grep -q 'row 0: weights: .*missing.h5: no such file' '$TMP/lmiss.log' && [ ! -e '$TMP/lmiss' ]"
: >"$TMP/empty.h5" # there, but not weights: found by pnp run at setup
"$PNP" grid "$GRID" --local --out "$TMP/lfail" "${tiny[@]}" --set weights="$TMP/empty.h5" >"$TMP/lfail.log" 2>&1
check "--local: a failing row stops the grid, naming the row, the run's own status and the rows not run (exit $?)" \
    bash -c "[ $? -eq 2 ] && grep -q 'row 0 of .* failed: pnp run exited with status 2 (bad input, refused at setup); not run: row 1 row 2' '$TMP/lfail.log'"

# ------------------------------------------------------------------ --submit, real Slurm
if ! slurm_start "$TMP/slurm"; then
    echo "skip - pnp grid --submit on a real Slurm: $SLURM_WHY"
    exit $status
fi

"$PNP" grid "$GRID" --submit --out "$TMP/sub" "${tiny[@]}" >"$TMP/sub.log" 2>&1
check "--submit: 3 jobs submitted (exit $?)" grep -q "3 jobs submitted to Slurm" "$TMP/sub.log" ||
    sed 's/^/#   /' "$TMP/sub.log"
ids=() specs=()
for k in 0 1 2; do
    id=$(sed -n "s/^row $k: job \([0-9]*\) .*/\1/p" "$TMP/sub.log")
    ids+=("$id")
    specs+=("$k:$id:$((1 << k))")
    check "--submit: row $k: job $id, result and log paths printed" grep -qF -- \
        "row $k: job $id (gpu:$((1 << k)), $((1 << k)) task$([ $k -gt 0 ] && echo s) per node x 1 node): result $TMP/sub/highres_imaging_row$k.h5, log $TMP/sub/slurm/highres_imaging_row$k-$id.out" \
        "$TMP/sub.log"
done
joined=$(IFS=,; echo "${ids[*]}")
check "the jobs end within 150 s" slurm_wait_jobs 150 "$joined"
for k in 0 1 2; do
    check "row $k: job ${ids[$k]} COMPLETED, its log says where it wrote" bash -c \
        "[ '$(slurm_job_state "${ids[$k]}")' = COMPLETED ] && grep -q '^wrote $TMP/sub/highres_imaging_row$k.h5' '$TMP/sub/slurm/highres_imaging_row$k-${ids[$k]}.out'" ||
        { tail -5 "$TMP/sub/slurm/highres_imaging_row$k-${ids[$k]}.out" 2>&1 | sed 's/^/#   /'; }
done
$PY tests/cli/check_grid.py "--submit" "$TMP/sub" highres_imaging "${specs[@]}" || status=1

# the checked-in examples, submitted by hand as users do (arguments go to pnp run)
declare -A ex_ids
for ex in slurm/*.sbatch; do
    ex_ids[$ex]=$(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PNP="$PNP" \
        sbatch --parsable --output="$TMP/ex-%x-%j.out" "$ex" --out "$TMP/ex" "${tiny[@]}" 2>"$TMP/ex.err")
    check "sbatch $ex: submitted (job ${ex_ids[$ex]})" test -n "${ex_ids[$ex]}" || sed 's/^/#   /' "$TMP/ex.err"
done
check "the examples' jobs end within 120 s" slurm_wait_jobs 120 "$(IFS=,; echo "${ex_ids[*]}")"
$PY tests/cli/check_grid.py "slurm/highres_gpu2.sbatch" "$TMP/ex" highres_imaging \
    "1:${ex_ids[slurm/highres_gpu2.sbatch]}:2" || status=1
$PY tests/cli/check_grid.py "slurm/highres_gpu4_mpirun.sbatch" "$TMP/ex" highres_imaging \
    "2:${ex_ids[slurm/highres_gpu4_mpirun.sbatch]}:4" || status=1

# refusals by Slurm: nothing queued
before=$(ls "$TMP/sub/slurm" | wc -l)
"$PNP" grid "$GRID" --submit --out "$TMP/sub" "${tiny[@]}" --set slurm_gres=gpu:5 --set slurm_ntasks_per_node=5 \
    >"$TMP/gpu5.log" 2>&1
rc=$?
check "gpu:5 on a 4-GPU node: exit 1, names the row and quotes Slurm" bash -c \
    "[ $rc -eq 1 ] && grep -q 'row 0 of .*(gpu:5, 5 tasks per node x 1 node): Slurm refuses the job .*Requested node configuration is not available' '$TMP/gpu5.log'" ||
    sed 's/^/#   /' "$TMP/gpu5.log"
check "gpu:5: nothing submitted (no job queued, no log)" bash -c \
    "grep -q 'nothing submitted' '$TMP/gpu5.log' && [ -z \"\$(squeue -h)\" ] && [ \$(ls '$TMP/sub/slurm' | wc -l) -eq $before ]"
"$PNP" grid "$GRID" --submit --out "$TMP/sub" --row 1 --set slurm_partition=nosuch >"$TMP/part.log" 2>&1
check "an unknown partition: exit 1, row 1 named, Slurm's reason quoted" bash -c \
    "[ $? -eq 1 ] && grep -qi 'row 1 of .*Slurm refuses the job.*invalid partition' '$TMP/part.log'" ||
    sed 's/^/#   /' "$TMP/part.log"

# USR1 (as --signal=B:USR1@120 sends it) reaches the ranks of a running job
"$PNP" grid "$GRID" --submit --out "$TMP/sig" --row 1 "${tiny[@]}" --set max_iter=1000000 >"$TMP/sig.log" 2>&1
id=$(sed -n 's/^row 1: job \([0-9]*\) .*/\1/p' "$TMP/sig.log")
log="$TMP/sig/slurm/highres_imaging_row1-$id.out"
for _ in $(seq 120); do grep -q '^iter' "$log" 2>/dev/null && break; sleep 0.5; done
scancel --batch --signal=USR1 "$id"
slurm_wait_jobs 60 "$id"
check "USR1 to a running job's batch shell: forwarded to the ranks, which checkpoint; the job ends" bash -c \
    "grep -q 'forwarding it to the ranks' '$log' && grep -q 'interrupted by signal USR1' '$log' &&
     [ -z \"\$(squeue -h -j $id)\" ]" ||
    { tail -5 "$log" 2>&1 | sed 's/^/#   /'; }
scancel "$id" 2>/dev/null
exit $status
