//! `post providers`: what can compute labels on this machine — the CPU backends and the CUDA devices
//! (name, memory, compute capability), or the reason there are none — and how to select them with
//! `--provider`.

use std::process::ExitCode;

use post_oracle::Backend;

/// List the CPU backends and CUDA devices that can compute labels.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// What the CUDA side reports.
struct Cuda {
    driver: Result<(u32, u32), String>,
    devices: Result<Vec<post_cuda::DeviceInfo>, String>,
    nvrtc: bool,
}

fn probe_cuda() -> Cuda {
    Cuda {
        driver: post_cuda::driver_version().map_err(|e| e.to_string()),
        devices: post_cuda::devices().map_err(|e| e.to_string()),
        nvrtc: post_cuda::nvrtc_present(),
    }
}

/// Runs the subcommand.
///
/// # Errors
/// Never; a missing driver is reported in the listing, not as an error.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let backends = Backend::available();
    let cuda = probe_cuda();
    if args.json {
        println!("{}", json(&backends, &cuda));
    } else {
        print!("{}", text(&backends, &cuda));
    }
    Ok(ExitCode::SUCCESS)
}

fn text(backends: &[Backend], cuda: &Cuda) -> String {
    let mut out = String::from("CPU\n  reference   the readable reference labeller (one label at a time per thread)\n");
    let fastest = Backend::detect();
    for b in backends {
        let mark = if *b == fastest { "  (fastest here)" } else { "" };
        out += &format!("  {:<11} {} lanes per thread{mark}\n", b.name(), b.lanes());
    }
    match &cuda.devices {
        Ok(list) if !list.is_empty() => {
            let driver = cuda.driver.as_ref().map(|(a, b)| format!("driver CUDA {a}.{b}")).unwrap_or_default();
            let nvrtc = if cuda.nvrtc {
                "NVRTC found".to_string()
            } else {
                "NVRTC NOT found: kernels load only from a filled cache".to_string()
            };
            out += &format!("CUDA ({driver}, {nvrtc})\n");
            for d in list {
                out += &format!("  {d}\n");
            }
            out += "  select with --provider cuda (all), cuda:0,2 (some), cuda@tpl4-gap2 (a kernel variant: \
                    tpl1|tpl4 threads per label, gap1|gap2|gap4 lookup gap; default auto)\n";
        }
        Ok(_) => out += "CUDA\n  no devices: the driver is installed but reports no GPU\n",
        Err(reason) => out += &format!("CUDA\n  no devices: {reason}\n"),
    }
    out
}

fn json(backends: &[Backend], cuda: &Cuda) -> serde_json::Value {
    let devices = match &cuda.devices {
        Ok(list) => serde_json::Value::Array(
            list.iter()
                .map(|d| {
                    serde_json::json!({
                        "provider": format!("cuda:{}", d.ordinal),
                        "name": d.name,
                        "total_memory": d.total_memory,
                        "compute_capability": d.compute_capability.to_string(),
                        "multiprocessors": d.multiprocessors,
                    })
                })
                .collect(),
        ),
        Err(_) => serde_json::Value::Array(Vec::new()),
    };
    serde_json::json!({
        "cpu": std::iter::once("reference").chain(backends.iter().map(|b| b.name())).collect::<Vec<_>>(),
        "cuda": {
            "devices": devices,
            "error": cuda.devices.as_ref().err(),
            "driver": cuda.driver.as_ref().ok().map(|(a, b)| format!("{a}.{b}")),
            "nvrtc": cuda.nvrtc,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_driver() -> Cuda {
        Cuda { driver: Err("no driver".into()), devices: Err("libcuda.so.1 not found".into()), nvrtc: false }
    }

    fn one_gpu() -> Cuda {
        Cuda {
            driver: Ok((12, 4)),
            devices: Ok(vec![post_cuda::DeviceInfo {
                ordinal: 0,
                name: "NVIDIA H200".into(),
                total_memory: 150_754_820_096,
                compute_capability: post_cuda::ComputeCapability { major: 9, minor: 0 },
                multiprocessors: 132,
                max_threads_per_multiprocessor: 2048,
                max_grid_x: i32::MAX as u32,
            }]),
            nvrtc: true,
        }
    }

    #[test]
    fn text_lists_cpu_backends_and_why_there_is_no_gpu() {
        let t = text(&[Backend::Portable], &no_driver());
        assert!(t.contains("reference") && t.contains("portable"), "{t}");
        assert!(t.contains("no devices: libcuda.so.1 not found"), "{t}");
    }

    #[test]
    fn text_lists_devices_with_memory_and_capability() {
        let t = text(&[Backend::Portable], &one_gpu());
        assert!(t.contains("driver CUDA 12.4, NVRTC found"), "{t}");
        assert!(t.contains("cuda:0 NVIDIA H200: 140.4 GiB, compute capability 9.0"), "{t}");
        assert!(t.contains("cuda@tpl4-gap2"), "{t}");
    }

    #[test]
    fn json_has_devices_or_the_error() {
        let j = json(&[Backend::Portable], &one_gpu());
        assert_eq!(j["cuda"]["devices"][0]["provider"], "cuda:0");
        assert_eq!(j["cuda"]["devices"][0]["compute_capability"], "9.0");
        assert_eq!(j["cpu"][0], "reference");
        let j = json(&[], &no_driver());
        assert_eq!(j["cuda"]["error"], "libcuda.so.1 not found");
        assert_eq!(j["cuda"]["devices"].as_array().map(Vec::len), Some(0));
    }
}
