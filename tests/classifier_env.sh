# Sourced by the classifier tests (classifier_test.sh, mpi_test.sh) after
# setting build: the resnet20 Multiception classifier as exe, real
# Fashion-MNIST as data (the test is skipped without it), a scratch folder
# tmp removed on exit, and fail.
exe=$build/classifiers/resnet20_multiception
data=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
if [ ! -e "$data/train-images-idx3-ubyte.gz" ]; then
  echo "SKIP: no Fashion-MNIST in $data (apt-get install dataset-fashion-mnist)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
