# test_benchmark_files.sh - the benchmark's own kinds of files, as they are
# (tests/configs/benchmark_*.yml, written from their description):
#  - the workstation grid: torchrun_nproc_per_node rows are N ranks on one node
#    (pnp config, the sbatch script, and `pnp grid --local` starting mpirun -n N),
#    OMP_NUM_THREADS the threads per rank, force_cpu the cpu backend,
#    receptive_field_size the overlap;
#  - the older large-scale grid: slurm_tasks_per_node read as
#    slurm_ntasks_per_node, its 2-GPU row a 2-task script;
#  - a benchopt parallel config (--parallel-config): time in minutes, additional
#    parameters as #SBATCH options (cpus-per-task filling its key), setup lines
#    before srun, stderr merged or apart; srun --mpi=pmix; --cpus-per-task from
#    the node's CPUs when nothing sets it;
#  - bad parallel configs: exit 2 naming file, line and column.
. "$(dirname "$0")/lib.sh"
T=tests/configs/benchmark_torchrun.yml
P=tests/configs/benchmark_parallel.yml

"$PNP" config "$T" >"$TMP/config.out" 2>&1
check "the workstation grid reads as it is: 4 rows" bash -c "[ $? -eq 0 ] && grep -q ': 4 rows' '$TMP/config.out'"
row() { grep "^row $1:" "$TMP/config.out" | tr ' ' '\n'; }
check "row 2: torchrun_nproc_per_node 2 -> 2 ranks per node on 1 node, receptive_field_size 32 -> overlap 32" \
    bash -c "row() { grep \"^row \$1:\" '$TMP/config.out' | tr ' ' '\n'; }
             row 2 | grep -qx slurm_ntasks_per_node=2 && row 2 | grep -qx slurm_nodes=1 && row 2 | grep -qx overlap=32"
check "force_cpu: true -> backend cpu; OMP_NUM_THREADS kept" \
    bash -c "grep '^row 1:' '$TMP/config.out' | tr ' ' '\n' | grep -qx backend=cpu &&
             grep '^row 1:' '$TMP/config.out' | tr ' ' '\n' | grep -qx OMP_NUM_THREADS=2"

L=tests/configs/benchmark_largescale.yml
"$PNP" config "$L" >"$TMP/large.out" 2>&1
check "the older large-scale grid reads as it is: 2 rows, slurm_tasks_per_node 2 -> slurm_ntasks_per_node 2, overlap 64" \
    bash -c "[ $? -eq 0 ] && grep -q ': 2 rows' '$TMP/large.out' &&
             grep '^row 1:' '$TMP/large.out' | tr ' ' '\n' | grep -qx slurm_ntasks_per_node=2 &&
             grep '^row 1:' '$TMP/large.out' | tr ' ' '\n' | grep -qx overlap=64"
"$PNP" grid "$L" --dry-run --row 1 --out "$TMP/large" >/dev/null 2>&1
check "its 2-GPU row's script: 2 tasks on one node, gpu:2" bash -c "
    s='$TMP/large/slurm/benchmark_largescale_row1.sbatch'
    grep -qx '#SBATCH --ntasks-per-node=2' \$s && grep -qx '#SBATCH --gres=gpu:2' \$s"

"$PNP" grid "$T" --dry-run --row 3 --out "$TMP/dry" >/dev/null 2>&1
s="$TMP/dry/slurm/benchmark_torchrun_row3.sbatch"
check "a torchrun row's script: one node, 2 tasks, srun --mpi=pmix" bash -c "
    grep -qx '#SBATCH --nodes=1' '$s' && grep -qx '#SBATCH --ntasks-per-node=2' '$s' && grep -q '^srun --mpi=pmix ' '$s'"
check "--cpus-per-task from the node's CPUs when nothing sets it (a comment says where from)" bash -c "
    grep -q '^# --cpus-per-task: [0-9]* CPUs per node' '$s' && grep -q '^#SBATCH --cpus-per-task=[0-9]' '$s'"

"$PNP" grid "$T" --dry-run --row 3 --out "$TMP/pc" --parallel-config "$P" >/dev/null 2>&1
s="$TMP/pc/slurm/benchmark_torchrun_row3.sbatch"
check "--parallel-config: slurm_time 30 minutes, cpus-per-task 10, qos, account, constraint as #SBATCH lines" bash -c "
    grep -qx '#SBATCH --time=0:30:00' '$s' && grep -qx '#SBATCH --cpus-per-task=10' '$s' &&
    grep -qx '#SBATCH --qos=qos_gpu-dev' '$s' && grep -qx '#SBATCH --account=abc@v100' '$s' &&
    grep -qx '#SBATCH --constraint=v100-32g' '$s' && ! grep -q -- '--error' '$s'"
check "--parallel-config: the setup lines, in order, before srun" bash -c "
    [ \"\$(grep -n -e '^module purge' -e '^module load pytorch' -e '^export NCCL_DEBUG=INFO' -e '^srun ' '$s' | cut -d: -f2 |
          cut -c1-6 | paste -sd,)\" = 'module,module,export,srun -' ]"
check "the script is valid bash" bash -n "$s"
sed 's/slurm_stderr_to_stdout: True/slurm_stderr_to_stdout: false/' "$P" >"$TMP/err.yml"
"$PNP" grid "$T" --dry-run --row 0 --out "$TMP/pe" --parallel-config "$TMP/err.yml" >/dev/null 2>&1
check "slurm_stderr_to_stdout: false -> --error beside --output" \
    grep -q '^#SBATCH --error=.*benchmark_torchrun_row0-%j.err$' "$TMP/pe/slurm/benchmark_torchrun_row0.sbatch"

bad() { # bad WHAT PATTERN FILE
    "$PNP" grid "$T" --dry-run --out "$TMP/bad" --parallel-config "$3" >/dev/null 2>"$TMP/bad.log"
    local rc=$?
    check "$1: exit 2, named ($(head -c 160 "$TMP/bad.log"))" bash -c "[ $rc -eq 2 ] && grep -qE -- '$2' '$TMP/bad.log' &&
        [ ! -e '$TMP/bad' ]"
}
printf 'backend: submitit\nslurm_tiem: 30\n' >"$TMP/typo.yml"
bad "an unknown key" "typo.yml:2:1: unknown key .slurm_tiem." "$TMP/typo.yml"
printf 'backend: loky\n' >"$TMP/loky.yml"
bad "another benchopt backend" "loky.yml:1:10: backend: .loky." "$TMP/loky.yml"
printf 'backend: submitit\nslurm_additional_parameters:\n  ntasks: 4\n' >"$TMP/own.yml"
bad "an option pnp grid sets from the row" "own.yml:3:11: .*.ntasks. is set by pnp grid" "$TMP/own.yml"
bad "a missing file" "nowhere.yml: no such file" "$TMP/nowhere.yml"

# the torchrun row runs as 2 ranks here (tiny problem)
timeout 300 "$PNP" grid "$T" --local --row 3 --out "$TMP/local" --set image_size=48 --set max_iter=1 \
    --set denoiser=drunet:8,16,32,64:1 --set patch_size=32 --set receptive_field_size=8 >"$TMP/local.log" 2>&1
check "--local: the torchrun row runs on 2 ranks (mpirun -n 2) with 1 thread each" bash -c "
    $PY -c \"import h5py, sys; sys.exit(int(h5py.File('$TMP/local/benchmark_torchrun_row3.h5').attrs['ranks']) != 2)\" &&
    grep -q '2 ranks (1 thread each)' '$TMP/local.log'"
exit $status
