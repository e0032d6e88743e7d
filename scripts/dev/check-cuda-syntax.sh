#!/usr/bin/env bash
# Developer aid, not part of the build: compiles the native sources with -fsyntax-only as a CUDA
# build of LibTorch 2.x would (D2G_WITH_CUDA), against the headers of a Python torch 2.x and the
# CUDA toolkit on this machine, so that 2.x/CUDA-only code is checked before a GPU call.
#   TORCH_PY=/path/to/python scripts/dev/check-cuda-syntax.sh [files...]
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${TORCH_PY:-python3}
T=$("$py" -c 'import torch, os; print(os.path.dirname(torch.__file__))')
cuda=${CUDA_HOME:-/usr/local/cuda}
# Stand-ins for headers a CUDA LibTorch install has and this machine may lack (only handle types are used).
fake=$(mktemp -d); mkdir -p "$fake/c10/cuda/impl"; echo '#pragma once' > "$fake/c10/cuda/impl/cuda_cmake_macros.h"
for h in cusparse:cusparseContext:cusparseHandle_t cublas_v2:cublasContext:cublasHandle_t \
         cublasLt:cublasLtContext:cublasLtHandle_t cusolverDn:cusolverDnContext:cusolverDnHandle_t; do
  IFS=: read -r file ctx handle <<<"$h"
  [ -f "$cuda/include/$file.h" ] || printf '#pragma once\ntypedef struct %s* %s;\n' "$ctx" "$handle" > "$fake/$file.h"
done
files=("$@"); [ ${#files[@]} -gt 0 ] || files=(native/src/*.cpp native/src/models/*.cpp native/src/kernels/*.cpp native/src/pipelines/*.cpp)
for f in "${files[@]}"; do
  g++ -std=c++17 -w -fsyntax-only -DD2G_WITH_CUDA -DD2G_WITH_CUDA_KERNELS -DD2G_WITH_CUDA_KERNELS -Inative/include -Inative/src -I"$fake" -I"$T/include" \
    -I"$T/include/torch/csrc/api/include" -I"$cuda/include" "$f" && echo "ok  $f" || echo "ERR $f"
done
rm -rf "$fake"
