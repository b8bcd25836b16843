/* host.h - what this process may use of the machine it runs on: memory (the
 * kernel's MemAvailable, or less under the cgroup limits of the job, as Slurm's
 * --mem and containers set them) and CPUs (its affinity mask, as mpirun's
 * --bind-to and taskset set it, and the cgroup's CPU quota, as Slurm's
 * --cpus-per-task and containers set it). Sizes are printed with one helper. */
#ifndef PNP_HOST_H
#define PNP_HOST_H

#include <stddef.h>

/* Bytes this process can still allocate: MemAvailable, or less when a cgroup
 * limit (v1 or v2, this cgroup or any above it) leaves less room; SIZE_MAX when
 * none of them can be read. */
size_t pnp_host_free_bytes(void);

/* CPUs this process may run on at once: the CPUs of its affinity mask
 * (sched_getaffinity), fewer when a cgroup CPU quota (cpu.max, or v1's
 * cpu.cfs_quota_us / cpu.cfs_period_us, rounded up) allows fewer; at least 1.
 * why (may be NULL) says where the bound comes from, e.g. "2 CPUs in this
 * process's affinity mask, no cgroup CPU quota". */
int pnp_host_cpus(char *why, size_t whylen);

/* The CPU quota, in CPUs, of the cgroups listed in the file proc_cgroup (the
 * format of /proc/self/cgroup) under the cgroup file systems mounted at
 * fs_root (/sys/fs/cgroup): the smallest over this cgroup and its parents;
 * 0 when there is none. pnp_host_cpus reads /proc/self/cgroup, /sys/fs/cgroup. */
double pnp_host_cgroup_cpus(const char *proc_cgroup, const char *fs_root);

/* A short name of this process's affinity mask (< 64 bytes): ranks of one node
 * whose names match run on the same CPUs and share them. */
void pnp_host_cpuset_id(char *id, size_t len);

/* bytes as "512 B", "1.0 KiB", "45.2 MiB", "2.00 GiB" (binary units) into buf. */
const char *pnp_format_bytes(double bytes, char *buf, size_t len);

#endif
