# test_config.sh - `pnp config`: the benchmark's grid, products, overrides,
# and every configuration error with its file:line:column and exit status 2.
. "$(dirname "$0")/lib.sh"

for f in tests/configs/bad_*.yml; do
    want=$(head -1 "$f" | sed 's/^# expect: //')
    "$PNP" config "$f" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    check "$(basename "$f"): exit 2 and '$want'" \
        bash -c "[ $rc -eq 2 ] && grep -qF -- \"tests/configs/$want\" '$TMP/err'"
done

"$PNP" config configs/highres_imaging.yml >"$TMP/grid" 2>&1
check "benchmark grid parses unchanged into 3 rows" grep -q "highres_imaging.yml: 3 rows" "$TMP/grid"
check "benchmark row 0: gpu:1, nothing distributed, n_iter 20" \
    grep -qE "^row 0: .*image_size=2048 num_operators=8 noise_level=0.1 .*max_iter=20 .*slurm_gres=gpu:1 slurm_ntasks_per_node=1 slurm_nodes=1 distribute_physics=false distribute_denoiser=false patch_size=0 overlap=0 max_batch_size=0" "$TMP/grid"
check "benchmark row 1: gpu:2, 448/32 tiles" \
    grep -qE "^row 1: .*slurm_gres=gpu:2 slurm_ntasks_per_node=2 slurm_nodes=1 distribute_physics=true distribute_denoiser=true patch_size=448 overlap=32 max_batch_size=0" "$TMP/grid"
check "benchmark row 2: gpu:4" grep -qE "^row 2: .*slurm_gres=gpu:4 slurm_ntasks_per_node=4 .*patch_size=448 overlap=32" "$TMP/grid"

"$PNP" config tests/configs/grid_product.yml >"$TMP/prod" 2>&1
check "product grid: 2 x 2 x 2 x 2 = 16 rows" grep -q "grid_product.yml: 16 rows" "$TMP/prod"
row() { sed -n "s/^row $1: //p" "$TMP/prod"; }
check "product order: the zipped (last) key varies fastest" \
    bash -c "[[ '$(row 0)' == *'distribute_physics=true'* && '$(row 1)' == *'slurm_gres=gpu:2'*'distribute_physics=false'* ]]"
check "product order: then denoiser_sigma, step_size, image_size" \
    bash -c "[[ '$(row 2)' == *'denoiser_sigma=0.02'* && '$(row 4)' == *'step_size=0.2'* && '$(row 8)' == *'image_size=128'* ]]"
check "YAML 1.1 scalars: 0x10 is 16, yes/No booleans, .01, 2e-1, quoted \"123\" stays a string" \
    bash -c "[[ '$(row 0)' == *'seed=16'*'denoiser_sigma=0.01 step_size=0.1'*'slurm_account=123'* && '$(row 15)' == *'step_size=0.2'* ]]"

"$PNP" config configs/highres_imaging.yml --set step_size=0.5 --set image_size=96 >"$TMP/set" 2>&1
check "--set overrides every row" bash -c "[ \$(grep -c 'image_size=96 .*step_size=0.5' '$TMP/set') -eq 3 ]"
"$PNP" config --set bogus=1 >/dev/null 2>"$TMP/err"
check "--set with an unknown key: exit 2, names the key" bash -c "[ $? -eq 2 ] && grep -q \"unknown key 'bogus'\" '$TMP/err'"
"$PNP" config --set distribute_denoiser=true --set patch_size=12 >/dev/null 2>"$TMP/err"
check "--set values are validated like the file's" bash -c "[ $? -eq 2 ] && grep -q 'patch_size must be a positive multiple of 8' '$TMP/err'"
"$PNP" config "$TMP/missing.yml" >/dev/null 2>"$TMP/err"
check "missing config file: exit 2, names the file" bash -c "[ $? -eq 2 ] && grep -q 'missing.yml: no such file' '$TMP/err'"
"$PNP" dataset configs/highres_imaging.yml --row 3 >/dev/null 2>"$TMP/err"
check "--row past the grid: exit 2 with the row count" bash -c "[ $? -eq 2 ] && grep -q 'has 3 rows' '$TMP/err'"

for cmd in dataset config version; do
    "$PNP" "$cmd" --help >"$TMP/help" 2>&1
    rc=$?
    "$PNP" help "$cmd" >"$TMP/help2" 2>&1
    check "pnp $cmd --help and pnp help $cmd print usage" \
        bash -c "[ $rc -eq 0 ] && [ $? -eq 0 ] && grep -q 'usage: pnp $cmd' '$TMP/help' && grep -q 'usage: pnp $cmd' '$TMP/help2'"
done
"$PNP" frobnicate >/dev/null 2>"$TMP/err"
check "unknown command: exit 2" bash -c "[ $? -eq 2 ] && grep -q \"unknown command 'frobnicate'\" '$TMP/err'"
"$PNP" config --bogus >/dev/null 2>"$TMP/err"
check "unknown option: exit 2" bash -c "[ $? -eq 2 ] && grep -q \"unknown option '--bogus'\" '$TMP/err'"
exit $status
