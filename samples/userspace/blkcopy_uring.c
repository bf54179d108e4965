// SPDX-License-Identifier: GPL-2.0
/*
 * Asynchronous copies through /dev/blkcopy with liburing: a copy of LEN
 * bytes split into pieces, QD of them in flight on one ring, each piece a
 * BLKCOPY_URING_COPY command (include/uapi/linux/blkcopy.h) with its range
 * inline in the SQE and its result in a struct blkcopy_uring_result.
 *
 *   blkcopy-uring-sample SRC DST SRC_OFF DST_OFF LEN [QD [PIECE]]
 *
 * Prints "copied N bytes, M offloaded" and exits 0, or the first error
 * and exits 1. Build: cc -o blkcopy-uring-sample blkcopy_uring.c -luring
 * (Debian: liburing-dev), with include/uapi of blkcopy on the include path.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>
#include <linux/blkcopy.h>

struct piece {
	struct blkcopy_uring_result result;
	uint64_t length;
};

static uint64_t num(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	if (*end == 'K' || *end == 'k')
		v <<= 10;
	else if (*end == 'M' || *end == 'm')
		v <<= 20;
	else if (*end == 'G' || *end == 'g')
		v <<= 30;
	return v;
}

/* Queues the copy of piece i; the kernel reads the command from the SQE. */
static void queue_piece(struct io_uring *ring, int ctl, int src, int dst, struct piece *p,
			uint64_t i, uint64_t so, uint64_t dof, uint64_t len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct blkcopy_uring_copy c = {
		.size = sizeof(c),
		.src_fd = src,
		.dst_fd = dst,
		.src_offset = so,
		.dst_offset = dof,
		.length = len,
		.result = (uintptr_t)&p->result,
		.result_size = sizeof(p->result),
	};

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, ctl, NULL, 0, 0);
	sqe->cmd_op = BLKCOPY_URING_COPY;
	memcpy(sqe->cmd, &c, sizeof(c));
	io_uring_sqe_set_data64(sqe, i);
	p->length = len;
}

int main(int argc, char **argv)
{
	uint64_t so, dof, len, piece = 4 << 20, npieces, next = 0, inflight = 0;
	uint64_t copied = 0, offloaded = 0;
	unsigned int qd = 16;
	int ctl, src, dst, ret, err = 0;
	struct io_uring ring;
	struct piece *pieces;

	if (argc < 6 || argc > 8) {
		fprintf(stderr, "usage: %s SRC DST SRC_OFF DST_OFF LEN [QD [PIECE]]\n", argv[0]);
		return 2;
	}
	so = num(argv[3]);
	dof = num(argv[4]);
	len = num(argv[5]);
	if (argc > 6)
		qd = (unsigned int)num(argv[6]);
	if (argc > 7)
		piece = num(argv[7]);
	if (!qd || !piece || !len) {
		fprintf(stderr, "QD, PIECE and LEN must not be 0\n");
		return 2;
	}
	src = open(argv[1], O_RDONLY);
	dst = open(argv[2], O_WRONLY);
	ctl = open("/dev/blkcopy", O_RDWR);
	if (src < 0 || dst < 0 || ctl < 0) {
		perror("open");
		return 1;
	}
	/* Commands live in the SQE's 80-byte area; CQE32 gives bytes copied. */
	ret = io_uring_queue_init(qd, &ring, IORING_SETUP_SQE128 | IORING_SETUP_CQE32);
	if (ret < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret));
		return 1;
	}
	npieces = (len + piece - 1) / piece;
	pieces = calloc(npieces, sizeof(*pieces));
	if (!pieces)
		return 1;
	while (next < npieces || inflight) {
		struct io_uring_cqe *cqe;
		struct piece *p;

		/* Keep QD pieces in flight until one fails. */
		while (!err && next < npieces && inflight < qd) {
			uint64_t off = next * piece;
			uint64_t n = len - off < piece ? len - off : piece;

			queue_piece(&ring, ctl, src, dst, &pieces[next], next, so + off, dof + off, n);
			next++;
			inflight++;
		}
		if (!inflight)
			break;
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "io_uring_submit_and_wait: %s\n", strerror(-ret));
			return 1;
		}
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			p = &pieces[io_uring_cqe_get_data64(cqe)];
			/* big_cqe[0]: the copied prefix, on success and failure. */
			copied += cqe->big_cqe[0];
			offloaded += p->result.bytes_offloaded;
			if (cqe->res < 0 && !err) {
				err = -cqe->res;
				fprintf(stderr, "piece at %" PRIu64 ": %s\n",
					so + (uint64_t)(p - pieces) * piece, strerror(err));
			}
			io_uring_cqe_seen(&ring, cqe);
			inflight--;
		}
	}
	printf("copied %" PRIu64 " bytes, %" PRIu64 " offloaded\n", copied, offloaded);
	io_uring_queue_exit(&ring);
	free(pieces);
	return err ? 1 : 0;
}
