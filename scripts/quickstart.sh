#!/usr/bin/env bash
# Quickstart: build hod, ingest the sample data sets into the embedded local store (./hod-data,
# or $HOD_STORE) and describe them. Re-running is cheap: files a dataset holds are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${HOD_TEST_DATA:-$(cd .. && pwd)/shared/data}"
# The dev profile builds dependencies optimised (Cargo.toml), so this is quick and fast enough.
cargo build --quiet -p hod-cli
hod=target/debug/hod
store="${HOD_STORE:-./hod-data}"
"$hod" --store "$store" ingest era5-nc3 "$data/era5-daily-nc3/*.nc"
"$hod" --store "$store" ingest era5-nc4 "$data/era5-daily-nc4/*.nc"
"$hod" --store "$store" ingest era5-grib "$data/era5-daily-grib/*.grib"
"$hod" --store "$store" ingest dem "$data/dem/dem_cog.tif"
"$hod" --store "$store" list
for d in era5-nc3 era5-nc4 era5-grib dem; do echo; "$hod" --store "$store" info "$d"; done
