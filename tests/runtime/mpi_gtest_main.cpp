// main() of the GoogleTest binaries that run under mpirun: every rank runs every test; MPI is up
// for the tests' whole life.
#include <gtest/gtest.h>

#include "pp/runtime/mpi_transport.h"

int main(int argc, char** argv) {
  pp::mpi_initialize(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  const int failed = RUN_ALL_TESTS();
  pp::mpi_finalize();
  return failed;
}
