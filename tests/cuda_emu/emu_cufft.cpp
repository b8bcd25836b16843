/* emu_cufft.cpp - cuFFT's stand-in in the CUDA emulation, on FFTW in single
 * precision (the calls pnp makes, defined against the toolkit's cufft.h).
 *
 * Plans keep cuFFT's layout rules: with inembed (onembed) NULL the strides and
 * distances are ignored and the data are packed ([batch][n0][n1] reals,
 * [batch][n0][n1/2+1] complex values); otherwise the advanced layout, which is
 * FFTW's own, applies. Each plan takes a work area of device memory at
 * creation (batch x n0 x (n1/2+1) complex values; cufftGetSize reports it) and
 * gives it back in cufftDestroy. A transform checks that its plan has its type,
 * that input and output extents lie in device memory, and that they do not
 * overlap (in-place transforms are not emulated), then runs on the plan's
 * stream when that stream runs. After a C2R transform its input is overwritten
 * with NaN: real cuFFT may clobber it, so nothing may read it afterwards.
 * cufftDestroy fails while queued transforms still need the plan. */
#include <cufft.h>
#include <fftw3.h>

#include <cmath>
#include <cstring>
#include <map>

#include "emu.h"

namespace {

struct Plan {
    int rank, n[2];
    bool r2c;
    int batch;
    bool packed_in, packed_out;
    int inembed[2], istride, idist, onembed[2], ostride, odist;
    fftwf_plan fftw;
    cudaStream_t stream;
    void *work;
    size_t work_bytes;
};

std::map<cufftHandle, Plan> g_plans;
cufftHandle g_next = 1;

cufftResult refuse(cufftResult rc, const char *call, const char *why)
{
    emu::note("%s returns %d: %s", call, (int)rc, why);
    return rc;
}

Plan *get(cufftHandle h, const char *call)
{
    auto it = g_plans.find(h);
    if (it == g_plans.end()) emu::fail(call, "plan %d is not a live plan (destroyed, or never made)", h);
    return &it->second;
}

/* Elements spanned by one side of a plan: batch x (the element at the last index) + 1. */
size_t extent(const Plan &p, bool input)
{
    const bool real = p.r2c == input;
    const int last = real ? p.n[p.rank - 1] : p.n[p.rank - 1] / 2 + 1;
    const bool packed = input ? p.packed_in : p.packed_out;
    if (packed) {
        size_t per = (size_t)last;
        for (int d = 0; d + 1 < p.rank; ++d) per *= (size_t)p.n[d];
        return per * p.batch;
    }
    const int *embed = input ? p.inembed : p.onembed;
    const int stride = input ? p.istride : p.ostride, dist = input ? p.idist : p.odist;
    size_t idx = (size_t)(last - 1);
    if (p.rank == 2) idx += (size_t)(p.n[0] - 1) * embed[1];
    return (size_t)(p.batch - 1) * dist + idx * stride + 1;
}

cufftResult make(cufftHandle *handle, int rank, const int *n, const int *inembed, int istride, int idist,
                 const int *onembed, int ostride, int odist, cufftType type, int batch, const char *call)
{
    emu::current_device();
    if (!handle) emu::fail(call, "plan is NULL");
    if (emu::injected_failure(call)) return CUFFT_INTERNAL_ERROR;
    if (type != CUFFT_R2C && type != CUFFT_C2R) emu::fail(call, "type %d: only R2C and C2R are emulated", (int)type);
    if (rank < 1 || rank > 2) emu::fail(call, "rank %d: only 1-D and 2-D transforms are emulated", rank);
    if (batch < 1) return refuse(CUFFT_INVALID_SIZE, call, "batch < 1");
    Plan p = {};
    p.rank = rank;
    for (int d = 0; d < rank; ++d) {
        if (n[d] < 1) return refuse(CUFFT_INVALID_SIZE, call, "a size < 1");
        p.n[d] = n[d];
    }
    p.r2c = type == CUFFT_R2C;
    p.batch = batch;
    p.packed_in = !inembed;
    p.packed_out = !onembed;
    const int last = n[rank - 1], half = last / 2 + 1;
    const int real_last = last, cplx_last = half;
    /* what FFTW is given: the packed layout, or the caller's */
    int fin[2], fon[2];
    for (int d = 0; d < rank; ++d) {
        fin[d] = inembed ? inembed[d] : (d == rank - 1 ? (p.r2c ? real_last : cplx_last) : n[d]);
        fon[d] = onembed ? onembed[d] : (d == rank - 1 ? (p.r2c ? cplx_last : real_last) : n[d]);
        p.inembed[d] = fin[d];
        p.onembed[d] = fon[d];
    }
    const int plane_in = rank == 2 ? fin[0] * fin[1] : fin[0], plane_out = rank == 2 ? fon[0] * fon[1] : fon[0];
    p.istride = inembed ? istride : 1;
    p.ostride = onembed ? ostride : 1;
    p.idist = inembed ? idist : plane_in;
    p.odist = onembed ? odist : plane_out;
    /* FFTW plans on scratch arrays; transforms run on the caller's with the new-array interface */
    const size_t ein = extent(p, true), eout = extent(p, false);
    const size_t in_bytes = ein * (p.r2c ? sizeof(float) : sizeof(fftwf_complex));
    const size_t out_bytes = eout * (p.r2c ? sizeof(fftwf_complex) : sizeof(float));
    void *in = fftwf_malloc(in_bytes), *out = fftwf_malloc(out_bytes);
    const unsigned flags = FFTW_ESTIMATE | FFTW_UNALIGNED | (p.r2c ? 0 : FFTW_DESTROY_INPUT);
    p.fftw = p.r2c ? fftwf_plan_many_dft_r2c(rank, p.n, batch, (float *)in, fin, p.istride, p.idist,
                                             (fftwf_complex *)out, fon, p.ostride, p.odist, flags)
                   : fftwf_plan_many_dft_c2r(rank, p.n, batch, (fftwf_complex *)in, fin, p.istride, p.idist,
                                             (float *)out, fon, p.ostride, p.odist, flags);
    fftwf_free(in);
    fftwf_free(out);
    if (!p.fftw) emu::fail(call, "FFTW cannot plan this layout");
    size_t per = (size_t)half;
    for (int d = 0; d + 1 < rank; ++d) per *= (size_t)n[d];
    p.work_bytes = per * batch * sizeof(fftwf_complex);
    if (cudaMalloc(&p.work, p.work_bytes) != cudaSuccess) {
        cudaGetLastError();
        fftwf_destroy_plan(p.fftw);
        return refuse(CUFFT_ALLOC_FAILED, call, "no device memory for the work area");
    }
    p.stream = nullptr;
    *handle = g_next++;
    g_plans[*handle] = p;
    return CUFFT_SUCCESS;
}

cufftResult exec(cufftHandle h, void *idata, void *odata, bool r2c, const char *call)
{
    Plan *p = get(h, call);
    if (p->r2c != r2c) return refuse(CUFFT_INVALID_VALUE, call, "the plan is of the other type");
    if (emu::injected_failure(call)) return CUFFT_EXEC_FAILED;
    const size_t in_bytes = extent(*p, true) * (r2c ? sizeof(float) : sizeof(fftwf_complex));
    const size_t out_bytes = extent(*p, false) * (r2c ? sizeof(fftwf_complex) : sizeof(float));
    emu::Op op;
    op.uses = {emu::device_range(idata, in_bytes, call, "idata"), emu::device_range(odata, out_bytes, call, "odata"),
               emu::find(p->work)};
    const char *i = (const char *)idata, *o = (const char *)odata;
    if (i < o + out_bytes && o < i + in_bytes)
        emu::fail(call, "input and output overlap (in-place transforms are not emulated)");
    op.what = std::string(call) + " of plan " + std::to_string(h);
    const fftwf_plan fp = p->fftw;
    if (r2c) {
        op.run = [fp, idata, odata] { fftwf_execute_dft_r2c(fp, (float *)idata, (fftwf_complex *)odata); };
    } else {
        op.run = [fp, idata, odata, in_bytes] {
            fftwf_execute_dft_c2r(fp, (fftwf_complex *)idata, (float *)odata);
            float *v = (float *)idata; /* cuFFT may clobber a C2R input: nothing may read it now */
            for (size_t e = 0; e < in_bytes / sizeof(float); ++e) v[e] = NAN;
        };
    }
    emu::enqueue(p->stream, std::move(op));
    return CUFFT_SUCCESS;
}

struct Register {
    Register()
    {
        emu::add_leak_counter("live_cufft_plans", [] { return g_plans.size(); });
    }
} g_register;

} // namespace

extern "C" cufftResult cufftPlan2d(cufftHandle *plan, int nx, int ny, cufftType type)
{
    int n[2] = {nx, ny};
    return make(plan, 2, n, nullptr, 1, 0, nullptr, 1, 0, type, 1, "cufftPlan2d");
}

extern "C" cufftResult cufftPlanMany(cufftHandle *plan, int rank, int *n, int *inembed, int istride, int idist,
                                     int *onembed, int ostride, int odist, cufftType type, int batch)
{
    return make(plan, rank, n, inembed, istride, idist, onembed, ostride, odist, type, batch, "cufftPlanMany");
}

extern "C" cufftResult cufftGetSize(cufftHandle handle, size_t *workSize)
{
    Plan *p = get(handle, "cufftGetSize");
    if (!workSize) emu::fail("cufftGetSize", "workSize is NULL");
    *workSize = p->work_bytes;
    return CUFFT_SUCCESS;
}

extern "C" cufftResult cufftSetStream(cufftHandle plan, cudaStream_t stream)
{
    Plan *p = get(plan, "cufftSetStream");
    emu::stream_name(stream, "cufftSetStream");
    p->stream = stream;
    return CUFFT_SUCCESS;
}

extern "C" cufftResult cufftExecR2C(cufftHandle plan, cufftReal *idata, cufftComplex *odata)
{
    return exec(plan, idata, odata, true, "cufftExecR2C");
}

extern "C" cufftResult cufftExecC2R(cufftHandle plan, cufftComplex *idata, cufftReal *odata)
{
    return exec(plan, idata, odata, false, "cufftExecC2R");
}

extern "C" cufftResult cufftDestroy(cufftHandle plan)
{
    Plan *p = get(plan, "cufftDestroy");
    emu::check_unused(emu::find(p->work), "cufftDestroy (its work area)");
    if (emu::injected_failure("cufftDestroy")) return CUFFT_INTERNAL_ERROR;
    if (cudaFree(p->work) != cudaSuccess) emu::fail("cufftDestroy", "cannot free the work area");
    fftwf_destroy_plan(p->fftw);
    g_plans.erase(plan);
    return CUFFT_SUCCESS;
}
