#!/usr/bin/env bash
# fetch.sh - download the benchmark's official inputs where the network allows
# (nothing here is committed; the machines this project is built on are offline):
#   data/drunet_color.pth   official DRUNet colour weights (KAIR v1.0 release),
#                           130,579,305 bytes, checked against its sha256
#   data/CBSD_0010.png      the benchmark's photo, from deepinv's CBSD68 set
# Use them with: pnp ... --set image=data/CBSD_0010.png --set weights=data/drunet_color.pth
set -euo pipefail
cd "$(dirname "$0")"
DRUNET_URL=https://github.com/cszn/KAIR/releases/download/v1.0/drunet_color.pth
DRUNET_SHA256=479abe3c5327dfd10ff54a80ec7d4098ca80752a5c9492cdff31cee430bec4b4
CBSD_URL=https://huggingface.co/datasets/deepinv/images/resolve/main/CBSD_0010.png

fetch() { # fetch URL FILE
    if [ -s "$2" ]; then echo "have $2"; return; fi
    echo "fetching $1"
    curl -fL --retry 3 -o "$2.part" "$1" && mv "$2.part" "$2"
}
fetch "$DRUNET_URL" drunet_color.pth
echo "$DRUNET_SHA256  drunet_color.pth" | sha256sum -c -
fetch "$CBSD_URL" CBSD_0010.png || echo "CBSD_0010.png: not fetched; any PNG works with --set image=FILE" >&2
