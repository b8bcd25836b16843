# test_install.sh - `make install` into a staged prefix (DESTDIR=STAGE
# PREFIX=/opt/pnp), then the installed program run from another folder finds
# its data beside itself: an installed config by name, the report script, the
# default (trained) DRUNet weights, and
# `pnp version`; nothing of the source tree is needed.
. "$(dirname "$0")/lib.sh"
stage="$TMP/stage"
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s install DESTDIR="$stage" PREFIX=/opt/pnp >"$TMP/install.log" 2>&1
check "make install DESTDIR=... PREFIX=/opt/pnp: exit 0" test $? -eq 0
bin="$stage/opt/pnp/bin/pnp"
check "the program and its data are installed" bash -c "[ -x '$bin' ] &&
    [ -f '$stage/opt/pnp/share/pnp/configs/highres_imaging.yml' ] &&
    [ -x '$stage/opt/pnp/share/pnp/scripts/pnp-report' ]"
mkdir -p "$TMP/elsewhere"
cd "$TMP/elsewhere" || exit 1
"$bin" version >version.out 2>&1
check "pnp version runs from another folder" grep -q '^pnp .*(commit ' version.out
"$bin" config highres_imaging >config.out 2>&1
check "an installed config by name (pnp config highres_imaging): its 3 rows" \
    bash -c "grep -q 'share/pnp/configs/highres_imaging.yml: 3 rows' config.out"
"$bin" run --set image_size=48 --set max_iter=1 --set denoiser=drunet:8,16,32,64:1 --out res >run.log 2>&1
check "pnp run from another folder: a result in ./res" bash -c "[ $? -eq 0 ] && [ -f res/default_row0.h5 ]"
"$bin" run --set image_size=48 --set max_iter=1 --out res2 >run2.log 2>&1
check "the installed pnp finds its trained DRUNet beside itself (denoiser drunet, no weights)" bash -c "
    [ $? -eq 0 ] && grep -q 'without weights: .*share/pnp/weights/drunet_small.h5' run2.log"
"$bin" report res/default_row0.h5 --out rep >report.log 2>&1
check "pnp report finds the installed script" bash -c "[ $? -eq 0 ] && [ -f rep/index.html ]"
exit $status
