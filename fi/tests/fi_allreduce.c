// SPDX-License-Identifier: MIT
// lumen-fi-allreduce: MPI_Allreduce (sum of doubles and max of ints) and a
// ring of tagged MPI_Sendrecv over whatever transport mpirun selected (the
// lumen libfabric provider in `make test-fi`), checked against the value
// every rank can compute. Exit 0 only if every rank saw the right results.
#include <mpi.h>

#include <stdio.h>
#include <stdlib.h>

static int check_sizes(int rank, int size)
{
	static const int counts[] = {1, 7, 1000, 65536, 262147};
	int bad = 0;
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		int n = counts[i];
		double *v = malloc(sizeof(double) * n);
		int *m = malloc(sizeof(int) * n);
		if (!v || !m)
			MPI_Abort(MPI_COMM_WORLD, 2);
		for (int k = 0; k < n; k++) {
			v[k] = rank + 1 + k * 0.5;
			m[k] = (k + rank) % size;
		}
		double t0 = MPI_Wtime();
		MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
		double t1 = MPI_Wtime();
		MPI_Allreduce(MPI_IN_PLACE, m, n, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
		// sum over ranks r of (r + 1 + k/2) = size(size+1)/2 + size*k/2
		for (int k = 0; k < n; k++) {
			double want = size * (size + 1) / 2.0 + size * k * 0.5;
			if (v[k] != want || m[k] != size - 1) {
				if (bad++ < 5)
					fprintf(stderr,
						"rank %d: count %d element %d: sum %g (want %g), "
						"max %d (want %d)\n",
						rank, n, k, v[k], want, m[k], size - 1);
			}
		}
		if (rank == 0)
			printf("allreduce %8d doubles: %9.1f us\n", n, (t1 - t0) * 1e6);
		free(v);
		free(m);
	}
	return bad;
}

static int check_ring(int rank, int size)
{
	int next = (rank + 1) % size, prev = (rank + size - 1) % size;
	int bad = 0;
	for (int tag = 0; tag < 16; tag++) {
		long out = rank * 1000 + tag, in = -1;
		MPI_Sendrecv(&out, 1, MPI_LONG, next, tag, &in, 1, MPI_LONG, prev, tag,
			     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		if (in != prev * 1000 + tag) {
			fprintf(stderr, "rank %d: ring tag %d got %ld\n", rank, tag, in);
			bad++;
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	int rank, size;
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	int bad = check_ring(rank, size) + check_sizes(rank, size);
	int total = 0;
	MPI_Reduce(&bad, &total, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
	if (rank == 0)
		printf("lumen-fi-allreduce: %d ranks, %s\n", size, total ? "FAILED" : "ok");
	MPI_Bcast(&total, 1, MPI_INT, 0, MPI_COMM_WORLD);
	MPI_Finalize();
	return total ? 1 : 0;
}
