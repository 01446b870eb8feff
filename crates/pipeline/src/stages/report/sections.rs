//! The report's sections, one function each: they read the inputs, write
//! each figure's data as CSV and add sections and summary rows to [`Ctx`].

use super::*;

/// Samples: particles tables, summaries and statistics.
pub(super) fn load_samples(c: &mut Ctx) -> Result<()> {
    let Ctx { p, prov, provenance_items, names, samples, .. } = c;
    // Samples: particles tables, summaries and statistics.
    *names = (0..p.particles.len())
        .map(|i| {
            p.sample.get(i).cloned().unwrap_or_else(|| {
                p.particles[i]
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or(format!("sample {}", i + 1))
            })
        })
        .collect();
    for (i, pd) in p.particles.iter().enumerate() {
        let (t, s) = crate::stages::stats::read_particles_dir(pd)?;
        prov.add_input(&pd.join("particles.csv"))?;
        provenance_items.push((format!("particles ({})", names[i]), s.provenance.clone()));
        let st = match p.stats.get(i) {
            Some(sd) => {
                let v: StatsSummary = read_typed(&sd.join("stats.json"))?;
                provenance_items.push((format!("stats ({})", names[i]), v.provenance.clone()));
                Some(v)
            }
            None => None,
        };
        samples.push((t, s, st));
    }
    Ok(())
}

/// Tomography: orthogonal slices and the damage-class overlay.
pub(super) fn tomography_section(c: &mut Ctx) -> Result<()> {
    let Ctx { p, dir, prov, written, sections, samples, .. } = c;
    // Tomography: orthogonal slices and the damage-class overlay.
    if let Some(vp) = &p.volume {
        prov.add_input(vp)?;
        let v = f32_3(vp)?;
        let (nz, ny, nx) = v.dim();
        let pc = raster::percentiles(v.index_axis(Axis(0), nz / 2).iter().copied(), &[1.0, 99.5]);
        let planes = [
            ("xy (depth mid-plane)", v.index_axis(Axis(0), nz / 2).to_owned()),
            ("z–x (y mid-plane; separator at top)", v.index_axis(Axis(1), ny / 2).to_owned()),
            ("z–y (x mid-plane; separator at top)", v.index_axis(Axis(2), nx / 2).to_owned()),
        ];
        let f = (360 / nx.max(ny).max(nz)).max(1);
        let mut html = String::from("<div style=\"display:flex;gap:10px;flex-wrap:wrap\">");
        for (name, a) in &planes {
            let img = raster::upscale(&raster::grey(a.view(), pc[0], pc[1]), f);
            html.push_str(&format!(
                "<div><img src=\"{}\" width=\"{}\" alt=\"{}\"><div style=\"font-size:12px\">{}</div></div>",
                img.data_uri().map_err(Error::data)?,
                img.width,
                escape(name),
                escape(name)
            ));
        }
        html.push_str("</div>");
        html.push_str(
            &charts::colorbar("reconstructed value (file units)", pc[0], pc[1], |t| [(t * 255.0) as u8; 3])
                .map_err(Error::data)?,
        );
        let csv = data(dir, "slice_xy", &map_table(&planes[0].1)?, prov, written)?;
        let mut figs = vec![
            Figure::new("slices", "Orthogonal slices of the reconstruction", Body::Html(html))
                .caption(format!("{nz}×{ny}×{nx} voxels; grey scale 1st–99.5th percentile of the xy slice."))
                .csv(csv)
                .wide(),
        ];
        if !samples.is_empty() {
            let lp = p.particles[0].join("labels.tiff");
            let labels = u32_3(&lp)?;
            if labels.dim() == v.dim() {
                let t = &samples[0].0;
                let ids = csv_f(t, "id");
                let cls = t.str("damage_class")?;
                let mut of: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
                for (i, id) in ids.iter().enumerate() {
                    if let Some(k) = class_index(&cls[i]) {
                        of.insert(*id as u32, k);
                    }
                }
                let base = raster::grey(planes[1].1.view(), pc[0], pc[1]);
                let cols = CLASS_COLORS.map(|c| [c.0, c.1, c.2]);
                let img = raster::upscale(
                    &raster::class_overlay(
                        &base,
                        labels.index_axis(Axis(1), ny / 2),
                        &|l| of.get(&l).copied(),
                        &cols,
                        0.55,
                    ),
                    f,
                );
                let legend = "<div style=\"font-size:13px\"><span style=\"color:#2ca02c\">■</span> least &nbsp; <span style=\"color:#ff7f0e\">■</span> mild &nbsp; <span style=\"color:#d62728\">■</span> severe</div>";
                let lab2 = labels
                    .index_axis(Axis(1), ny / 2)
                    .mapv(|l| if l == 0 { f32::NAN } else { of.get(&l).map(|k| *k as f32).unwrap_or(f32::NAN) });
                let csv = data(dir, "slice_damage_classes", &map_table(&lab2)?, prov, written)?;
                figs.push(
                    Figure::new("damage-slice", "Damage classes on the z–x slice", Body::Html(format!("<img src=\"{}\" width=\"{}\" alt=\"damage classes\">{legend}", img.data_uri().map_err(Error::data)?, img.width)))
                        .caption("Each labelled particle tinted by its damage class (crack fraction thresholds of the particles stage); separator at the top, current collector at the bottom. CSV: class per pixel (0 least, 1 mild, 2 severe).")
                        .csv(csv),
                );
            }
        }
        sections.push(Section {
            id: "tomography".into(),
            title: "Tomography".into(),
            intro: String::new(),
            figures: figs,
        });
    }
    Ok(())
}

/// Damage versus depth, layers, samples.
pub(super) fn depth_section(c: &mut Ctx) -> Result<()> {
    let Ctx { dir, prov, written, sections, names, samples, .. } = c;
    if let Some((_, _, Some(st))) = samples.first() {
        let prof = &st.depth_profile;
        let cats: Vec<String> = prof.iter().map(|w| format!("{:.0}–{:.0}", w.z_from_um, w.z_to_um)).collect();
        let get = |f: fn(&DepthWindow) -> f64| prof.iter().map(f).collect::<Vec<f64>>();
        let ci = |f: fn(&DepthWindow) -> (f64, f64)| prof.iter().map(f).collect::<Vec<_>>();
        let series: Vec<Series> = ["least", "mild", "severe"]
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let f = get(CLASS_FRACTION[k]);
                let b = ci(CLASS_CI95[k]);
                Series {
                    name: c.to_string(),
                    color: CLASS_COLORS[k],
                    ci: Some(b.iter().zip(&f).map(|(b, f)| (b.0 - f, b.1 - f)).collect()),
                    values: f,
                }
            })
            .collect();
        let mut pt = Table::default();
        pt.push("z_from_um", Column::F64(get(|w| w.z_from_um)), Some("µm"))?;
        pt.push("z_to_um", Column::F64(get(|w| w.z_to_um)), Some("µm"))?;
        pt.push("particles", Column::F64(get(|w| w.particles as f64)), None)?;
        for (k, c) in ["least", "mild", "severe"].iter().enumerate() {
            pt.push(&format!("fraction_{c}"), Column::F64(get(CLASS_FRACTION[k])), None)?;
            let b = ci(CLASS_CI95[k]);
            pt.push(&format!("{c}_ci95_lo"), Column::F64(b.iter().map(|x| x.0).collect()), None)?;
            pt.push(&format!("{c}_ci95_hi"), Column::F64(b.iter().map(|x| x.1).collect()), None)?;
        }
        let csv = data(dir, "depth_profile", &pt, prov, written)?;
        let mut figs = vec![Figure::new("depth-profile", "Damage classes from separator to current collector", svg(charts::stacked_bars("Damage classes by depth", &cats, &series, "depth from separator (µm)", "fraction of particles"))?)
            .caption(format!("Fractions of least/mild/severely damaged particles per depth window (particle centroids); error bars: 95 % bootstrap intervals of each fraction, {}.", uncertainty_note(st)))
            .csv(csv)];
        // Pies of the top (separator) and bottom (current collector) layers.
        if prof.len() >= 2 {
            let layer = |w: &DepthWindow| -> Vec<(String, f64, plotters::style::RGBColor)> {
                let n = w.particles as f64;
                ["least", "mild", "severe"]
                    .iter()
                    .enumerate()
                    .map(|(k, c)| (c.to_string(), (CLASS_FRACTION[k](w) * n).round(), CLASS_COLORS[k]))
                    .collect()
            };
            let (top, bottom) = (layer(&prof[0]), layer(&prof[prof.len() - 1]));
            let mut lt = Table::default();
            lt.push("layer", Column::Str(vec!["top (separator)".into(), "bottom (current collector)".into()]), None)?;
            for (k, c) in ["least", "mild", "severe"].iter().enumerate() {
                lt.push(c, Column::F64(vec![top[k].1, bottom[k].1]), None)?;
            }
            let csv = data(dir, "layer_classes", &lt, prov, written)?;
            figs.push(
                Figure::new(
                    "pie-top",
                    &format!("Top layer (separator side, {})", cats[0]),
                    svg(charts::pie("Top layer: particles per class", &top))?,
                )
                .caption("Particle counts per damage class in the first depth window.")
                .csv(csv.clone()),
            );
            figs.push(
                Figure::new(
                    "pie-bottom",
                    &format!("Bottom layer (current-collector side, {})", cats[cats.len() - 1]),
                    svg(charts::pie("Bottom layer: particles per class", &bottom))?,
                )
                .caption("Particle counts per damage class in the last depth window.")
                .csv(csv),
            );
        }
        if let Some(radar) = radar_figure(samples, names, dir, prov, written)? {
            figs.push(radar);
        }
        sections.push(Section {
            id: "depth".into(),
            title: "Damage through the electrode".into(),
            intro: "z = 0 is the separator, z = thickness the current collector.".into(),
            figures: figs,
        });
    }
    Ok(())
}

/// What the depth profile's bootstrap intervals carry.
fn uncertainty_note(st: &StatsSummary) -> &'static str {
    if st.measurement_sd_propagated {
        "resampling the particles and each particle's crack-fraction measurement error (crack_fraction_sd)"
    } else {
        "resampling the particles only (no per-particle measurement error in the table)"
    }
}

/// Radar chart of mean particle metrics over the samples (two or more).
pub(super) fn radar_figure(
    samples: &[(Table, ParticlesSummary, Option<StatsSummary>)],
    names: &[String],
    dir: &OutDir,
    prov: &Provenance,
    written: &mut Vec<String>,
) -> Result<Option<Figure>> {
    if samples.len() < 2 {
        return Ok(None);
    }
    let axes = [
        "mean crack fraction",
        "severe fraction",
        "mean ESD (µm)",
        "mean sphericity",
        "pore-facing surface",
        "pore tortuosity",
    ];
    let mut rows: Vec<(String, Vec<f64>)> = Vec::new();
    for (i, (t, _, st)) in samples.iter().enumerate() {
        let mean = |c: &str| {
            let v = csv_f(t, c);
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        let sev = t
            .str("damage_class")
            .map(|c| c.iter().filter(|x| *x == "severe").count() as f64 / c.len().max(1) as f64)
            .unwrap_or(f64::NAN);
        let tau = st.as_ref().and_then(|s| s.pore_tortuosity_z.as_ref()).map(|t| t.tau).unwrap_or(f64::NAN);
        rows.push((
            names[i].clone(),
            vec![mean("crack_fraction"), sev, mean("esd_um"), mean("sphericity"), mean("pore_contact_fraction"), tau],
        ));
    }
    let mut rt = Table::default();
    rt.push("sample", Column::Str(rows.iter().map(|r| r.0.clone()).collect()), None)?;
    for (k, a) in axes.iter().enumerate() {
        rt.push(a, Column::F64(rows.iter().map(|r| r.1[k]).collect()), None)?;
    }
    let csv = data(dir, "samples_radar", &rt, prov, written)?;
    let ax: Vec<String> = axes.iter().map(|s| s.to_string()).collect();
    Ok(Some(
        Figure::new(
            "radar",
            "Samples compared",
            svg(charts::radar("Samples compared (each axis scaled to its largest value)", &ax, &rows))?,
        )
        .caption("Mean particle metrics per sample.")
        .csv(csv),
    ))
}

/// The network of severely damaged particles.
pub(super) fn network_section(c: &mut Ctx) -> Result<()> {
    let Ctx { dir, prov, written, sections, samples, .. } = c;
    if let Some((_, _, Some(st))) = samples.first() {
        // Network of severely damaged particles.
        let net = &st.severe_network;
        let nodes: Vec<[f64; 3]> = net.node_positions_um.clone();
        let edges: Vec<(usize, usize)> = net.edge_list.iter().map(|e| (e.0, e.1)).collect();
        {
            let extent = samples[0].1.extent_um;
            let mut nt = Table::default();
            nt.push("particle_id", Column::U64(net.node_ids.clone()), None)?;
            nt.push("z_um", Column::F64(nodes.iter().map(|n| n[0]).collect()), Some("µm"))?;
            nt.push("y_um", Column::F64(nodes.iter().map(|n| n[1]).collect()), Some("µm"))?;
            nt.push("x_um", Column::F64(nodes.iter().map(|n| n[2]).collect()), Some("µm"))?;
            let csv = data(dir, "severe_network_nodes", &nt, prov, written)?;
            let cap = format!(
                "{} severely damaged particles, each joined to its {} nearest severe neighbours ({} edges; mean nearest-neighbour distance {} µm). Colour: depth (purple at the separator, yellow at the current collector). Edges: severe_network_edges.csv of the stats stage.",
                nodes.len(),
                net.k,
                edges.len(),
                charts::fmt(net.mean_nearest_um)
            );
            sections.push(Section {
                id: "network".into(),
                title: "Network of severely damaged particles".into(),
                intro: String::new(),
                figures: vec![
                    Figure::new(
                        "network-3d",
                        "k-nearest-neighbour network, perspective",
                        svg(charts::network(
                            "Severe-particle network (perspective)",
                            &nodes,
                            &edges,
                            extent,
                            View::Perspective,
                        ))?,
                    )
                    .caption(cap.clone())
                    .csv(csv.clone()),
                    Figure::new(
                        "network-top",
                        "k-nearest-neighbour network, top view",
                        svg(charts::network("Severe-particle network (top view)", &nodes, &edges, extent, View::Top))?,
                    )
                    .caption(cap)
                    .csv(csv),
                ],
            });
        }
    }
    Ok(())
}

/// Particle histograms and the summary table.
pub(super) fn particles_section(c: &mut Ctx) -> Result<()> {
    let Ctx { p, dir, prov, written, sections, summary_rows, samples, .. } = c;
    if let Some((t, s, st)) = samples.first() {
        let mut figs = super::label_slices::label_slice_figures(p, t, dir, prov, written)?;
        let hist = |c: &str| csv_f(t, c);
        let detach: Vec<f64> = hist("pore_contact_fraction");
        let mut ht = Table::default();
        for c in [
            "id",
            "esd_um",
            "sphericity",
            "crack_fraction",
            "pore_contact_fraction",
            "cbd_contact_fraction",
            "centroid_z_um",
        ] {
            // 2-D tables have no ESD or sphericity.
            if t.get(c).is_some() {
                ht.push(c, Column::F64(hist(c)), if c.ends_with("_um") { Some("µm") } else { None })?;
            }
        }
        let csv = data(dir, "particle_metrics", &ht, prov, written)?;
        figs.extend([
            Figure::new(
                "hist-esd",
                "Equivalent-sphere diameter",
                svg(charts::histogram("ESD", &hist("esd_um"), 20, "ESD (µm)", PALETTE[0]))?,
            )
            .csv(csv.clone()),
            Figure::new(
                "hist-sphericity",
                "Sphericity",
                svg(charts::histogram("Sphericity", &hist("sphericity"), 20, "sphericity (1 = sphere)", PALETTE[4]))?,
            )
            .caption("π^(1/3)(6V)^(2/3)/A with Crofton surface areas.")
            .csv(csv.clone()),
            Figure::new(
                "hist-crack",
                "Crack fraction",
                svg(charts::histogram(
                    "Crack fraction",
                    &hist("crack_fraction"),
                    20,
                    "crack (pore) volume / particle envelope volume",
                    PALETTE[3],
                ))?,
            )
            .csv(csv.clone()),
            Figure::new(
                "hist-detachment",
                "Detachment",
                svg(charts::histogram(
                    "Detachment",
                    &detach,
                    20,
                    "fraction of particle surface facing pore",
                    PALETTE[1],
                ))?,
            )
            .caption(
                "Surface not in contact with carbon-binder or other particles: detached particles have high values.",
            )
            .csv(csv),
        ]);
        sections.push(Section {
            id: "particles".into(),
            title: "Particles".into(),
            intro: String::new(),
            figures: figs,
        });
        let cc = &s.damage_classes;
        summary_rows.push(vec!["particles".into(), format!("{}", t.rows())]);
        summary_rows.push(vec![
            "damage classes (least / mild / severe)".into(),
            format!("{} / {} / {}", cc.least, cc.mild, cc.severe),
        ]);
        let mean = |v: Vec<f64>| {
            v.iter().filter(|x| x.is_finite()).sum::<f64>() / v.iter().filter(|x| x.is_finite()).count().max(1) as f64
        };
        summary_rows.push(vec!["mean ESD (µm)".into(), charts::fmt(mean(hist("esd_um")))]);
        summary_rows.push(vec!["mean crack fraction".into(), charts::fmt(mean(hist("crack_fraction")))]);
        summary_rows.push(vec!["voxel size (µm)".into(), format!("{}", s.spacing_um[0])]);
        if let Some(st) = st {
            for k in ["pore", "carbon_binder", "active"] {
                if let Some(v) = st.volume_fractions.get(k) {
                    summary_rows.push(vec![format!("volume fraction, {k}"), charts::fmt(*v)]);
                }
            }
            summary_rows.push(vec![
                "depth-profile intervals carry the crack-fraction measurement error".into(),
                (if st.measurement_sd_propagated { "yes" } else { "no" }).into(),
            ]);
            if let Some(t) = &st.pore_tortuosity_z {
                summary_rows.push(vec!["pore tortuosity factor (through thickness)".into(), charts::fmt(t.tau)]);
            }
        }
    }
    Ok(())
}

/// XANES: edge-energy map with cracks, SoC map, cluster spectra.
pub(super) fn xanes_section(c: &mut Ctx) -> Result<()> {
    let Ctx { p, dir, prov, written, sections, summary_rows, provenance_items, xanes_mask, xanes_fraction, .. } = c;
    if let Some(xd) = &p.xanes {
        let xs: XanesSummary = read_typed(&xd.join(MARKER))?;
        provenance_items.push(("xanes".into(), xs.provenance.clone()));
        prov.add_input(&xd.join("e0_half.tiff"))?;
        let e0 = f32_2(&xd.join("e0_half.tiff"))?;
        let mask = f32_2(&xd.join("mask.tiff"))?.mapv(|v| v > 0.0);
        let pc = raster::percentiles(e0.iter().zip(mask.iter()).filter(|(_, m)| **m).map(|(v, _)| *v), &[2.0, 98.0]);
        let mut img = raster::colormap(e0.view(), Some(mask.view()), pc[0], pc[1], viridis);
        // Cracks and particle edges: where the edge-jump mask ends inside the field of view.
        raster::outline(&mut img, mask.view(), [255, 255, 255]);
        let f = (480 / e0.ncols().max(e0.nrows())).max(1);
        let img = raster::upscale(&img, f);
        let csv = data(dir, "e0_map", &map_table(&e0)?, prov, written)?;
        let px = xs.pixel_um;
        let mut figs = vec![Figure::new(
            "soc-map",
            "Edge energy (SoC) map with cracks outlined",
            Body::Image { uri: img.data_uri().map_err(Error::data)?, width: img.width, alt: "E0 map".into(), colorbar: Some(charts::colorbar("E0 at half edge height (eV)", pc[0], pc[1], viridis).map_err(Error::data)?) },
        )
        .caption(format!(
            "Per-pixel Ni K-edge energy (higher = more oxidised = higher SoC) where the edge jump is significant; white lines trace the mask boundary: particle edges and cracks (gaps in the Ni signal). {}Grey: no Ni signal.",
            px.map(|p| format!("Pixel {p} µm. ")).unwrap_or_default()
        ))
        .csv(csv)];
        let fr = xd.join("soc.tiff");
        if fr.is_file() {
            let soc = f32_2(&fr)?;
            let img = raster::upscale(&raster::colormap(soc.view(), Some(mask.view()), 0.0, 1.0, viridis), f);
            let csv = data(dir, "soc_map", &map_table(&soc)?, prov, written)?;
            figs.push(
                Figure::new(
                    "soc-lcf",
                    "State of charge from linear-combination fitting",
                    Body::Image {
                        uri: img.data_uri().map_err(Error::data)?,
                        width: img.width,
                        alt: "SoC map".into(),
                        colorbar: Some(
                            charts::colorbar("SoC (fraction of the charged reference)", 0.0, 1.0, viridis)
                                .map_err(Error::data)?,
                        ),
                    },
                )
                .caption("Per-pixel LCF with the two references (sum to one, non-negative).")
                .csv(csv),
            );
            *xanes_fraction = Some(soc);
        }
        // Cluster spectra.
        let sp = xd.join("spectra.csv");
        if sp.is_file() {
            let t = table::read_csv(&sp)?;
            let e = csv_f(&t, "energy_ev");
            let mut series = Vec::new();
            for (i, n) in t.names.iter().filter(|n| n.starts_with("cluster_")).enumerate() {
                series.push(Series {
                    name: n.replace('_', " "),
                    color: PALETTE[i % PALETTE.len()],
                    values: csv_f(&t, n),
                    ci: None,
                });
            }
            if series.is_empty() {
                series.push(Series {
                    name: "mean".into(),
                    color: PALETTE[0],
                    values: csv_f(&t, "mean_norm"),
                    ci: None,
                });
            }
            let rel = "figures/cluster_spectra.csv".to_string();
            table::write_csv(&dir.path(&rel), &t, Some(prov))?;
            written.push(rel.clone());
            figs.push(Figure::new("cluster-spectra", "Representative spectrum per cluster", svg(charts::lines("Mean normalised spectrum per k-means cluster", &e, &series, "energy (eV)", "normalised μ"))?).caption("Clusters of per-pixel spectra (PCA + k-means, number chosen by silhouette), numbered by edge energy.").csv(rel));
        }
        let pcf = xd.join("particle_chemistry.csv");
        if pcf.is_file() {
            let t = table::read_csv(&pcf)?;
            let col = ["soc_mean", "mean_soc", "soc"].iter().find(|c| t.get(c).is_some()).copied();
            if let Some(c) = col {
                let v = csv_f(&t, c);
                let mut ht = Table::default();
                ht.push("particle", Column::F64(csv_f(&t, t.names[0].as_str())), None)?;
                ht.push(c, Column::F64(v.clone()), None)?;
                let csv = data(dir, "particle_soc", &ht, prov, written)?;
                figs.push(
                    Figure::new(
                        "hist-soc",
                        "State of charge per particle",
                        svg(charts::histogram("Mean SoC per particle", &v, 20, "SoC", PALETTE[2]))?,
                    )
                    .csv(csv),
                );
            }
        }
        let m = xs.overview();
        summary_rows.push(vec!["XANES pixels with Ni signal".into(), format!("{}", m.pixels_masked)]);
        summary_rows.push(vec!["median E0 (eV)".into(), charts::fmt(m.median_e0_half_ev.unwrap_or(f64::NAN))]);
        summary_rows.push(vec!["mean SoC (XANES)".into(), charts::fmt(m.mean_soc.unwrap_or(f64::NAN))]);
        *xanes_mask = Some(mask);
        sections.push(Section {
            id: "chemistry".into(),
            title: "Chemistry (TXM-XANES)".into(),
            intro: String::new(),
            figures: figs,
        });
    }
    Ok(())
}

/// Ground truth: scores against the simulator, when given.
pub(super) fn truth_section(c: &mut Ctx) -> Result<()> {
    let Ctx {
        p, dir, prov, written, sections, provenance_items, samples, xanes_mask, xanes_fraction, truth_json, ..
    } = c;
    if let Some(td) = &p.truth {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut figs = Vec::new();
        if let Some((_, s, _)) = samples.first() {
            if let Some(tm) = &s.truth_match {
                particle_truth_rows(tm, &mut rows, &mut figs);
                truth_json.particles = Some(tm.clone());
            }
            let mt = p.particles[0].join("truth_matches.csv");
            if mt.is_file() {
                let t = table::read_csv(&mt)?;
                let rel = "figures/truth_matches.csv".to_string();
                table::write_csv(&dir.path(&rel), &t, Some(prov))?;
                written.push(rel.clone());
                figs.push(
                    Figure::new(
                        "truth-crack",
                        "Crack fraction: measured against true",
                        svg(charts::scatter_identity(
                            "Crack fraction of matched particles",
                            &csv_f(&t, "truth_crack_fraction"),
                            &csv_f(&t, "crack_fraction"),
                            "true crack fraction",
                            "measured crack fraction",
                        ))?,
                    )
                    .caption("Sub-voxel cracks blur into the carbon-binder grey range and are under-counted.")
                    .csv(rel),
                );
            }
        }
        if let (Some(mask), Some(soc)) = (&xanes_mask, &xanes_fraction)
            && let Some(score) = soc_against_truth(td, mask, soc)?
        {
            rows.push(vec![
                "SoC error per pixel (RMSE / mean)".into(),
                format!("{} / {:+.3}", charts::fmt(score.soc_rmse), score.soc_bias),
            ]);
            truth_json.soc = Some(score);
        }
        if let Ok(tj) = read_marker(td) {
            provenance_items.push(("simulate".into(), tj["provenance"].clone()));
        }
        if !rows.is_empty() {
            let mut gt = Table::default();
            gt.push("quantity", Column::Str(rows.iter().map(|r| r[0].clone()).collect()), None)?;
            gt.push("value", Column::Str(rows.iter().map(|r| r[1].clone()).collect()), None)?;
            let csv = data(dir, "ground_truth", &gt, prov, written)?;
            figs.insert(
                0,
                Figure::new(
                    "ground-truth",
                    "Accuracy against the simulator's ground truth",
                    Body::Html(table_html(&["quantity", "value"], &rows)),
                )
                .csv(csv),
            );
            sections.insert(
                0,
                Section {
                    id: "truth".into(),
                    title: "Ground truth".into(),
                    intro: "The input was simulated: every measured quantity is scored against the known answer."
                        .into(),
                    figures: figs,
                },
            );
        }
    }
    Ok(())
}

/// The particle rows of the ground-truth table (counts, matching, damage
/// classes, crack fractions) and the class confusion matrix.
fn particle_truth_rows(tm: &TruthMatch, rows: &mut Vec<Vec<String>>, figs: &mut Vec<Figure>) {
    rows.push(vec![
        "particles (true / found)".into(),
        format!("{} / {}", tm.report.true_particles, tm.report.predicted_particles),
    ]);
    rows.push(vec!["matching rate (IoU ≥ 0.5)".into(), format!("{:.1} %", 100.0 * tm.report.matched_fraction)]);
    rows.push(vec!["mean IoU of matched".into(), charts::fmt(tm.report.mean_iou)]);
    let Some(c) = &tm.classes else { return };
    rows.push(vec!["damage-class accuracy".into(), format!("{:.1} %", 100.0 * c.class_accuracy)]);
    rows.push(vec!["crack-fraction correlation".into(), charts::fmt(c.crack_fraction_correlation)]);
    rows.push(vec![
        "mean crack fraction (true / measured)".into(),
        format!("{} / {}", charts::fmt(c.crack_fraction_mean_truth), charts::fmt(c.crack_fraction_mean_measured)),
    ]);
    let conf = &c.confusion_rows_truth_cols_measured.counts;
    let names3 = ["least", "mild", "severe"];
    let ct: Vec<Vec<String>> = (0..3)
        .map(|i| {
            std::iter::once(format!("true {}", names3[i])).chain((0..3).map(|j| format!("{}", conf[i][j]))).collect()
        })
        .collect();
    figs.push(Figure::new(
        "confusion",
        "Damage classes: truth (rows) × measured (columns)",
        Body::Html(table_html(&["", "least", "mild", "severe"], &ct)),
    ));
}

/// The XANES SoC map against the simulator's true SoC (`truth/xanes_soc.tiff`
/// in the simulation `td`) over the masked pixels; `None` without a true
/// map of the same shape.
fn soc_against_truth(td: &Path, mask: &Array2<bool>, soc: &Array2<f32>) -> Result<Option<SocScore>> {
    let tf = td.join("truth/xanes_soc.tiff");
    if !tf.is_file() {
        return Ok(None);
    }
    let ts = f32_2(&tf)?;
    if ts.dim() != soc.dim() {
        return Ok(None);
    }
    let d: Vec<f64> = soc
        .iter()
        .zip(ts.iter())
        .zip(mask.iter())
        .filter(|((a, b), m)| **m && a.is_finite() && b.is_finite())
        .map(|((a, b), _)| (*a - *b) as f64)
        .collect();
    let n = d.len().max(1) as f64;
    let rmse = (d.iter().map(|x| x * x).sum::<f64>() / n).sqrt();
    let bias = d.iter().sum::<f64>() / n;
    Ok(Some(SocScore { soc_rmse: rmse, soc_bias: bias, soc_pixels: d.len() }))
}

/// The summary table, first in the report.
pub(super) fn summary_section(c: &mut Ctx) -> Result<()> {
    let Ctx { dir, prov, written, sections, summary_rows, .. } = c;
    if !summary_rows.is_empty() {
        let mut st = Table::default();
        st.push("quantity", Column::Str(summary_rows.iter().map(|r| r[0].clone()).collect()), None)?;
        st.push("value", Column::Str(summary_rows.iter().map(|r| r[1].clone()).collect()), None)?;
        let csv = data(dir, "summary", &st, prov, written)?;
        sections.insert(
            0,
            Section {
                id: "summary".into(),
                title: "Summary".into(),
                intro: String::new(),
                figures: vec![
                    Figure::new("summary", "Summary", Body::Html(table_html(&["quantity", "value"], summary_rows)))
                        .csv(csv),
                ],
            },
        );
    }
    Ok(())
}
