//! Every `insight.*` setting.

use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

/// Progress NOTICEs from long calls (training iterations, loss, elapsed time).
pub static PROGRESS: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Threads used by training inside one backend; 0 = one per CPU core. Capped by max_threads.
pub static THREADS: GucSetting<i32> = GucSetting::<i32>::new(0);
/// The most threads any session may use (superuser-only). Defined by hand below: its default is
/// the number of cores, known only at run time, and pgrx's GucSetting takes a constant default.
static mut MAX_THREADS: i32 = 1;
/// The most memory one training call may plan to use, in kB (superuser-only). Defined by hand:
/// its default, a quarter of the machine's memory, is known only at run time.
static mut MAX_TRAIN_MEMORY_KB: i32 = 1 << 20;
/// Where neural networks run (only `cpu` exists in builds without the `candle` feature).
pub static DEVICE: GucSetting<Device> = GucSetting::<Device>::new(Device::Cpu);
/// Directory holding a sentence-embedding model (safetensors + tokenizer.json).
pub static EMBEDDING_MODEL_PATH: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);

#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Device {
    #[name = c"cpu"]
    Cpu,
    #[name = c"cuda"]
    Cuda,
}

pub fn init() {
    GucRegistry::define_bool_guc(
        c"insight.progress",
        c"Report progress of long pg_insight calls as NOTICEs.",
        c"Training reports each iteration's loss, gradient and elapsed time.",
        &PROGRESS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"insight.threads",
        c"Threads pg_insight may use for training inside one backend (0 = one per CPU core).",
        c"Capped by insight.max_threads. Scoring functions are single-threaded per row; use parallel query to spread them.",
        &THREADS,
        0,
        MAX_THREADS_LIMIT,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: PostgreSQL keeps a pointer to MAX_THREADS and writes it on SET (on this thread)
    unsafe {
        pg_sys::DefineCustomIntVariable(
            c"insight.max_threads".as_ptr(),
            c"The most threads one session's pg_insight calls may use (set by a superuser).".as_ptr(),
            c"insight.threads asks for threads up to this cap. The default is the number of CPU cores.".as_ptr(),
            std::ptr::addr_of_mut!(MAX_THREADS),
            cores() as i32,
            1,
            MAX_THREADS_LIMIT,
            pg_sys::GucContext::PGC_SUSET,
            0,
            None,
            None,
            None,
        );
    }
    // SAFETY: PostgreSQL keeps a pointer to MAX_TRAIN_MEMORY_KB and writes it on SET (on this
    // thread)
    unsafe {
        pg_sys::DefineCustomIntVariable(
            c"insight.max_train_memory".as_ptr(),
            c"The most memory one pg_insight training call may need (set by a superuser).".as_ptr(),
            c"Training estimates its peak from rows x inputs before and while it reads, and refuses above this (53200). The default is a quarter of the machine's memory.".as_ptr(),
            std::ptr::addr_of_mut!(MAX_TRAIN_MEMORY_KB),
            quarter_of_memory_kb(),
            // twice the fixed cost (ml::memory::FIXED_BYTES): at the least, as much room for
            // the rows and the algorithm as the fixed cost (at the fixed cost itself, 64 MB,
            // nothing could train)
            crate::ml::memory::LEAST_BUDGET_KB,
            i32::MAX,
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GUC_UNIT_KB as i32,
            None,
            None,
            None,
        );
    }
    // SAFETY: the check hook is #[pg_guard]ed and only reads its argument
    unsafe {
        GucRegistry::define_enum_guc_with_hooks(
            c"insight.device",
            c"Device for neural-network training and scoring: cpu or cuda.",
            c"cuda needs a build with the candle and cuda features and a GPU.",
            &DEVICE,
            GucContext::Userset,
            GucFlags::default(),
            Some(check_device_setting),
            None,
            None,
        );
    }
    GucRegistry::define_string_guc(
        c"insight.embedding_model_path",
        c"Directory of a local sentence-embedding model used by insight.embed.",
        c"Weights are never downloaded at run time. Superuser-only: the server reads the files there.",
        &EMBEDDING_MODEL_PATH,
        GucContext::Suset,
        GucFlags::default(),
    );
    // `SET insight.typo = ...` is an error instead of a new placeholder setting
    unsafe { pg_sys::MarkGUCPrefixReserved(c"insight".as_ptr()) };
}

const MAX_THREADS_LIMIT: i32 = 256;

fn cores() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS_LIMIT as usize)
}

/// Training threads for this call: insight.threads (0: one per core), at most insight.max_threads.
pub fn threads() -> usize {
    // SAFETY: written only by PostgreSQL's GUC code, on this thread
    let cap = unsafe { MAX_THREADS }.max(1) as usize;
    match THREADS.get() {
        n if n > 0 => n as usize,
        _ => cores(),
    }
    .min(cap)
}

/// Refuses `insight.device = cuda` when SET in a build without CUDA, instead of failing later at
/// the first network training.
#[pg_guard]
unsafe extern "C-unwind" fn check_device_setting(
    newval: *mut std::ffi::c_int,
    _extra: *mut *mut std::ffi::c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    if cfg!(feature = "cuda") || *newval != pgrx::GucEnum::to_ordinal(&Device::Cuda) {
        return true;
    }
    pg_sys::GUC_check_errcode(pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED as i32);
    pg_sys::GUC_check_errdetail_string =
        pg_sys::pstrdup(c"This pg_insight build has no CUDA support: install one built with --features cuda on a machine with a GPU, or keep insight.device = cpu.".as_ptr());
    false
}

/// Checks that the device `insight.device` names is usable by this build: `cuda` needs the
/// `cuda` cargo feature (candle with CUDA); without it the setting is an error, not a silent
/// fallback to the CPU.
pub fn check_device() -> crate::error::Result<()> {
    if DEVICE.get() == Device::Cuda && !cfg!(feature = "cuda") {
        return Err(crate::error::InsightError::not_supported(
            "insight.device is cuda, but this pg_insight build has no CUDA support",
            "SET insight.device = cpu, or install a build made with --features cuda on a machine with a GPU.",
        ));
    }
    Ok(())
}

/// insight.device, as the algorithms see it.
pub fn device() -> crate::ml::algorithms::Device {
    match DEVICE.get() {
        Device::Cpu => crate::ml::algorithms::Device::Cpu,
        Device::Cuda => crate::ml::algorithms::Device::Cuda,
    }
}

/// A quarter of the machine's physical memory (or of the container's limit, where lower), in kB
/// (1 GB where it cannot be read).
fn quarter_of_memory_kb() -> i32 {
    // SAFETY: sysconf reads constants of the system
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if pages <= 0 || size <= 0 {
        return 1 << 20;
    }
    let mut bytes = pages as i128 * size as i128;
    // in a container, its memory limit (cgroup v2, then v1) where that is lower
    for limit in [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ] {
        if let Some(b) = std::fs::read_to_string(limit)
            .ok()
            .and_then(|t| t.trim().parse::<i128>().ok())
            .filter(|&b| b > 0)
        {
            bytes = bytes.min(b);
        }
    }
    ((bytes / 4 / 1024).clamp(crate::ml::memory::LEAST_BUDGET_KB as i128, i32::MAX as i128)) as i32
}

/// insight.max_train_memory in bytes.
pub fn max_train_memory() -> u64 {
    // SAFETY: written only by PostgreSQL's GUC code, on this thread
    let kb = unsafe { std::ptr::addr_of!(MAX_TRAIN_MEMORY_KB).read() };
    kb.max(crate::ml::memory::LEAST_BUDGET_KB) as u64 * 1024
}
