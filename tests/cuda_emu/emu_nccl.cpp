/* emu_nccl.cpp - NCCL's stand-in in the CUDA emulation, on MPI (the calls
 * pnp makes, defined against the toolkit's nccl.h).
 *
 * ncclCommInitRank is collective over MPI_COMM_WORLD (the emulation's one
 * limit: every world rank must join a communicator, as pnp's do): ranks that
 * pass the same id form a communicator, which must then have nranks members
 * with distinct ranks, each on its own GPU (host name and device number;
 * NCCL refuses two ranks on one GPU with ncclInvalidUsage, and so does this).
 * ncclAllReduce checks its buffers (count elements of the data type, inside
 * device memory of the current device; sendbuff == recvbuff is in place, any
 * other overlap is not allowed) and its stream, and queues an MPI_Allreduce
 * that runs when the stream runs: every rank must then synchronize, as a
 * real collective needs every rank to launch it. ncclCommDestroy completes
 * the communicator's queued work first (NCCL finalizes it). */
#include <mpi.h>
#include <nccl.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <random>
#include <set>
#include <string>

#include "emu.h"

struct ncclComm {
    MPI_Comm mpi;
    cudaStream_t last_stream; /* where its last collective was queued */
};

namespace {

std::set<ncclComm *> g_comms;
const char MAGIC[] = "pnp-cuda-emu-nccl";

ncclResult_t refuse(ncclResult_t rc, const char *call, const char *why)
{
    emu::note("%s returns %s: %s", call, ncclGetErrorString(rc), why);
    return rc;
}

ncclComm *live(ncclComm_t c, const char *call)
{
    if (!g_comms.count(c)) emu::fail(call, "communicator %p is not live (destroyed, or never made)", (void *)c);
    return c;
}

bool mpi_type(ncclDataType_t t, MPI_Datatype *m, size_t *bytes)
{
    switch (t) {
    case ncclFloat32: *m = MPI_FLOAT, *bytes = 4; return true;
    case ncclFloat64: *m = MPI_DOUBLE, *bytes = 8; return true;
    case ncclInt32: *m = MPI_INT32_T, *bytes = 4; return true;
    case ncclInt64: *m = MPI_INT64_T, *bytes = 8; return true;
    default: return false;
    }
}

bool mpi_op(ncclRedOp_t op, MPI_Op *m)
{
    switch (op) {
    case ncclSum: *m = MPI_SUM; return true;
    case ncclProd: *m = MPI_PROD; return true;
    case ncclMax: *m = MPI_MAX; return true;
    case ncclMin: *m = MPI_MIN; return true;
    default: return false;
    }
}

struct Register {
    Register()
    {
        emu::add_leak_counter("live_nccl_comms", [] { return g_comms.size(); });
    }
} g_register;

} // namespace

extern "C" const char *ncclGetErrorString(ncclResult_t result)
{
    switch (result) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error (injected by the emulation?)";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    default: return "an error the emulation does not name";
    }
}

extern "C" ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId)
{
    if (!uniqueId) emu::fail("ncclGetUniqueId", "uniqueId is NULL");
    if (emu::injected_failure("ncclGetUniqueId")) return ncclInternalError;
    memset(uniqueId, 0, sizeof *uniqueId);
    memcpy(uniqueId->internal, MAGIC, sizeof MAGIC);
    std::random_device rd;
    for (size_t i = sizeof MAGIC; i < sizeof uniqueId->internal; ++i) uniqueId->internal[i] = (char)rd();
    return ncclSuccess;
}

extern "C" ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank)
{
    const char *call = "ncclCommInitRank";
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) emu::fail(call, "the emulated NCCL runs on MPI, which is not initialized");
    if (!comm) emu::fail(call, "comm is NULL");
    if (memcmp(commId.internal, MAGIC, sizeof MAGIC))
        emu::fail(call, "the unique id was not made by ncclGetUniqueId (not broadcast from the rank that made it?)");
    if (nranks < 1 || rank < 0 || rank >= nranks) return refuse(ncclInvalidArgument, call, "rank not in [0, nranks)");
    /* ranks passing the same id form one communicator */
    uint32_t color = 2166136261u;
    for (size_t i = 0; i < sizeof commId.internal; ++i) color = (color ^ (uint8_t)commId.internal[i]) * 16777619u;
    MPI_Comm mpi;
    MPI_Comm_split(MPI_COMM_WORLD, (int)(color & 0x7fffffff), rank, &mpi);
    int size = 0, me = 0;
    MPI_Comm_size(mpi, &size);
    MPI_Comm_rank(mpi, &me);
    if (size != nranks) emu::fail(call, "nranks is %d but %d rank(s) passed this id", nranks, size);
    int r = rank, dup = 0;
    MPI_Allreduce(MPI_IN_PLACE, &r, 1, MPI_INT, MPI_SUM, mpi);
    if (r != nranks * (nranks - 1) / 2 || me != rank) emu::fail(call, "the ranks given are not 0..%d once each", nranks - 1);
    /* one GPU per rank */
    char mine[320], *all = new char[sizeof mine * (size_t)size];
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    snprintf(mine, sizeof mine, "%s device %d", host, emu::current_device());
    MPI_Allgather(mine, sizeof mine, MPI_CHAR, all, sizeof mine, MPI_CHAR, mpi);
    for (int q = 0; q < size; ++q)
        if (q != me && !strcmp(all + q * sizeof mine, mine)) dup = 1;
    delete[] all;
    if (emu::injected_failure(call)) {
        MPI_Comm_free(&mpi);
        return ncclInternalError;
    }
    if (dup) {
        MPI_Comm_free(&mpi);
        return refuse(ncclInvalidUsage, call, "Duplicate GPU detected: another rank of this communicator is on the same "
                                              "device (NCCL needs one GPU per rank)");
    }
    ncclComm *c = new ncclComm{mpi, nullptr};
    g_comms.insert(c);
    *comm = c;
    return ncclSuccess;
}

extern "C" ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                      ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)
{
    const char *call = "ncclAllReduce";
    ncclComm *c = live(comm, call);
    MPI_Datatype mt;
    MPI_Op mo;
    size_t es;
    if (!mpi_type(datatype, &mt, &es)) emu::fail(call, "data type %d is not emulated", (int)datatype);
    if (!mpi_op(op, &mo)) emu::fail(call, "reduction %d is not emulated", (int)op);
    if (emu::injected_failure(call)) return ncclInternalError;
    emu::Op q;
    q.what = "ncclAllReduce of " + std::to_string(count) + " elements";
    if (count) {
        q.uses = {emu::device_range(sendbuff, count * es, call, "sendbuff"),
                  emu::device_range(recvbuff, count * es, call, "recvbuff")};
        const char *s = (const char *)sendbuff, *r = (const char *)recvbuff;
        if (s != r && s < r + count * es && r < s + count * es)
            emu::fail(call, "sendbuff and recvbuff overlap without being equal");
    }
    MPI_Comm mpi = c->mpi;
    q.run = [=] {
        const size_t piece = INT_MAX / 2;
        for (size_t off = 0; off < count; off += piece) {
            const int m = (int)(count - off < piece ? count - off : piece);
            void *rb = (char *)recvbuff + off * es;
            const void *sb = (const char *)sendbuff + off * es;
            MPI_Allreduce(sb == rb ? MPI_IN_PLACE : sb, rb, m, mt, mo, mpi);
        }
    };
    emu::enqueue(stream, std::move(q));
    c->last_stream = stream;
    return ncclSuccess;
}

extern "C" ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
    if (!comm) return ncclSuccess;
    ncclComm *c = live(comm, "ncclCommDestroy");
    if (emu::injected_failure("ncclCommDestroy")) return ncclInternalError;
    if (c->last_stream) emu::run_stream(c->last_stream);
    MPI_Comm_free(&c->mpi);
    g_comms.erase(c);
    delete c;
    return ncclSuccess;
}
