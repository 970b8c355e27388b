//! Deterministic certified numbers: a region analysed alone or inside a batch, with 1 or 2
//! threads, in the library and through `twinverify lrom`, gives bit-identical certified bounds.

use crate::common::*;
use twinverify::analysis::batch::Batch;
use twinverify::analysis::lrom::{analyse, LromConfig, RegionResult};
use twinverify::bounds::InputMap;
use twinverify::data::Sample;
use twinverify::onnx::{self, TractRunner};

/// Every certified number of a region, as bits.
fn certified(r: &RegionResult) -> Vec<u64> {
    let mut out = Vec::new();
    for p in &r.pairs {
        out.push(p.min.certified().to_bits());
        out.extend(p.max.as_ref().map(|m| m.certified().to_bits()));
        out.extend(p.independent.iter().flat_map(|&(a, b)| [a.to_bits(), b.to_bits()]));
    }
    out
}

fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

#[test]
fn a_region_alone_in_a_batch_and_with_1_or_2_threads_gets_the_same_certified_bounds() {
    for (pair, data, scale) in [
        (["twin_mlp.onnx", "twin_mlp_prune50.onnx"], "twin_mlp_data.csv", 1.0),
        (["twin_conv.onnx", "twin_conv_prune50.onnx"], "twin_conv_data.csv", 1.0 / 255.0),
    ] {
        let models = pair.map(|n| onnx::load(fixture(n)).unwrap());
        let runners: Vec<TractRunner> = models.iter().map(|m| TractRunner::new(m).unwrap()).collect();
        let nets = [&models[0].network, &models[1].network];
        let samples: Vec<Sample> = twinverify::data::read_samples(&fixture(data), scale).unwrap();
        let samples = &samples[..5];
        let cfg = LromConfig::default();
        let (target, delta, domain) = (&samples[3], 0.05, Some((0.0, 1.0)));
        let alone = |threads| {
            in_pool(threads, || {
                analyse(nets, &runners, &target.features, target.label, delta, &InputMap::plain(domain), &cfg).unwrap()
            })
        };
        let reference = certified(&alone(1));
        assert!(!reference.is_empty());
        assert_eq!(certified(&alone(2)), reference, "{pair:?}: alone, 2 threads");
        assert_eq!(certified(&alone(2)), reference, "{pair:?}: alone, 2 threads, again");
        let batch = Batch {
            nets: &nets,
            runners: &runners,
            pairs: &[(0, 1)],
            samples,
            deltas: &[delta],
            map: &InputMap::plain(domain),
            include_misclassified: true,
            config: &cfg,
        };
        for threads in [1, 2] {
            let outcomes = in_pool(threads, || batch.run().unwrap());
            let r = outcomes.iter().find(|o| o.sample == target.index).and_then(|o| o.result.as_ref()).unwrap();
            assert_eq!(certified(r), reference, "{pair:?}: in a batch, {threads} threads");
        }
    }
}

/// The JSON regions of one `twinverify lrom` run on the MLP twins with `RAYON_NUM_THREADS`.
fn cli_regions(samples: &str, threads: &str, dir: &std::path::Path) -> Vec<serde_json::Value> {
    let json = dir.join(format!("{samples}-{threads}.json"));
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/twin_mlp.yaml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_twinverify"))
        .args(["lrom", "--spec", spec.to_str().unwrap(), "--samples", samples, "--delta", "0.05", "--pair", "2,1"])
        .args([
            "--threads",
            threads,
            "--json",
            json.to_str().unwrap(),
            "--csv",
            dir.join(format!("{samples}-{threads}.csv")).to_str().unwrap(),
        ])
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    doc["regions"].as_array().unwrap().clone()
}

#[test]
fn twinverify_lrom_prints_the_same_numbers_for_a_sample_alone_or_in_a_batch() {
    let dir = scratch_dir("determinism");
    let alone = cli_regions("4", "1", &dir);
    let batch = cli_regions("0..6", "2", &dir);
    std::fs::remove_dir_all(&dir).unwrap();
    let in_batch: Vec<_> = batch.into_iter().filter(|r| r["sample"] == 4).collect();
    assert_eq!(alone.len(), 1);
    assert_eq!(in_batch.len(), 1);
    assert!(alone[0]["result"]["pairs"].as_array().is_some_and(|p| !p.is_empty()));
    assert_eq!(alone[0]["result"]["pairs"], in_batch[0]["result"]["pairs"]);
}
