//! Every `insight.*` setting.

use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

/// Progress NOTICEs from long calls (training iterations, loss, elapsed time).
pub static VERBOSE: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Threads used by training inside one backend; 0 = one per CPU core.
pub static THREADS: GucSetting<i32> = GucSetting::<i32>::new(0);
/// Where neural networks run (only `cpu` exists in builds without the `candle` feature).
pub static DEVICE: GucSetting<Device> = GucSetting::<Device>::new(Device::Cpu);
/// Directory holding a sentence-embedding model (safetensors + tokenizer.json).
pub static EMBEDDING_MODEL_PATH: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Device {
    #[name = c"cpu"]
    Cpu,
    #[name = c"cuda"]
    Cuda,
}

pub fn init() {
    GucRegistry::define_bool_guc(
        c"insight.verbose",
        c"Report progress of long pg_insight calls as NOTICEs.",
        c"Training reports each iteration's loss, gradient and elapsed time.",
        &VERBOSE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"insight.threads",
        c"Threads pg_insight may use for training inside one backend (0 = one per CPU core).",
        c"Scoring functions are single-threaded per row; use parallel query to spread them.",
        &THREADS,
        0,
        256,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"insight.device",
        c"Device for neural-network training and scoring: cpu or cuda.",
        c"cuda needs a build with the candle and cuda features and a GPU.",
        &DEVICE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"insight.embedding_model_path",
        c"Directory of a local sentence-embedding model used by insight.embed.",
        c"Weights are never downloaded at run time.",
        &EMBEDDING_MODEL_PATH,
        GucContext::Userset,
        GucFlags::default(),
    );
}

/// Training threads for this call.
pub fn threads() -> usize {
    match THREADS.get() {
        n if n > 0 => n as usize,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
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

#[cfg(feature = "candle")]
pub fn device_kind() -> crate::ml::candle_backend::DeviceKind {
    match DEVICE.get() {
        Device::Cpu => crate::ml::candle_backend::DeviceKind::Cpu,
        Device::Cuda => crate::ml::candle_backend::DeviceKind::Cuda,
    }
}
