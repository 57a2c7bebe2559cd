use super::*;
use crate::compile::Precision;
use crate::runtime::Target;

#[test]
fn unknown_key_is_named() {
    let e = Config::from_toml("[outputs.rtsp]\nprot = 1\n", Path::new("x.toml")).unwrap_err().to_string();
    assert!(e.contains("prot") && e.contains("x.toml"), "{e}");
}

#[test]
fn missing_paths_are_named() {
    let cfg = Config::from_toml(
        "[portrait]\nimage = \"/nonexistent/p.png\"\n[outputs.mp4]\npath = \"/tmp/o.mp4\"\n",
        Path::new("c.toml"),
    )
    .unwrap();
    let e = cfg.check().unwrap_err().to_string();
    assert!(e.contains("portrait.image") && e.contains("/nonexistent/p.png"), "{e}");
    let cfg = Config::from_toml("[outputs.mp4]\npath = \"/nonexistent/d/o.mp4\"\n", Path::new("c.toml")).unwrap();
    let e = cfg.check().unwrap_err().to_string();
    assert!(e.contains("outputs.mp4.path") && e.contains("/nonexistent/d"), "{e}");
}

#[test]
fn model_inputs_name_what_they_need() {
    let cfg =
        Config::from_toml("[input]\nkind = \"alsa\"\n[outputs.mp4]\npath = \"o.mp4\"\n", Path::new("c.toml")).unwrap();
    let e = cfg.check().unwrap_err().to_string();
    assert!(e.contains("portrait.image"), "{e}");
    let img = std::env::current_exe().unwrap();
    let mut cfg = cfg;
    cfg.portrait.image = Some(img.clone());
    let e = cfg.check().unwrap_err().to_string();
    assert!(e.contains("model.package"), "{e}");
    cfg.model.package = Some(img.parent().unwrap().to_path_buf());
    cfg.motion_out.udp = Some("not an address".into());
    let e = cfg.check().unwrap_err().to_string();
    assert!(e.contains("motion_out.udp"), "{e}");
    cfg.motion_out.udp = Some("127.0.0.1:9870".into());
    cfg.check().unwrap();
    let e = Config::from_toml("[model]\nbackend = \"gpu\"\n", Path::new("c.toml")).unwrap_err().to_string();
    assert!(e.contains("backend") || e.contains("gpu"), "{e}");
    let m = Config::from_toml("[model]\nbackend = \"cpu\"\nprecision = \"fp16\"\n", Path::new("c.toml")).unwrap();
    assert_eq!((m.model.backend, m.model.precision), (Target::OrtCpu, Precision::Fp16));
    let mut t = Config::from_toml("[model]\nbackend = \"tensorrt\"\n", Path::new("c.toml")).unwrap();
    assert_eq!(t.model.backend, Target::Tensorrt);
    if !cfg!(any(feature = "tensorrt-native", feature = "tensorrt-mock")) {
        t.portrait.image = None;
        let e = t.check().unwrap_err().to_string();
        assert!(e.contains("model.backend") && e.contains("tensorrt-native"), "{e}");
    }
}

#[test]
fn motion_only_mode_takes_the_cheaper_chunk_unless_one_is_set() {
    let parse = |t: &str| Config::from_toml(t, Path::new("c.toml")).unwrap();
    assert_eq!(parse("[outputs.mp4]\npath = \"o.mp4\"\n").chunk_ms(), DEFAULT_CHUNK_MS);
    let robot = "[input]\nkind = \"alsa\"\n[motion_out]\nudp = \"127.0.0.1:9870\"\n";
    assert_eq!(parse(robot).chunk_ms(), MOTION_ONLY_CHUNK_MS);
    assert_eq!(parse(&format!("{robot}[streaming]\nchunk_ms = 80\n")).chunk_ms(), 80);
    let bad = parse("[outputs.mp4]\npath = \"o.mp4\"\n[streaming]\nchunk_ms = 50\n").check().unwrap_err().to_string();
    assert!(bad.contains("streaming.chunk_ms") && bad.contains("50"), "{bad}");
}

#[test]
fn control_beyond_loopback_needs_a_token() {
    let mut cfg = Config::from_toml("[outputs.mp4]\npath = \"o.mp4\"\n", Path::new("c.toml")).unwrap();
    cfg.check().unwrap();
    for lo in ["127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"] {
        cfg.control.address = lo.into();
        cfg.check().unwrap_or_else(|e| panic!("{lo}: {e}"));
    }
    cfg.control.address = "0.0.0.0".into();
    let e = cfg.check().unwrap_err().to_string();
    assert!(e.contains("control.token") && e.contains("0.0.0.0"), "{e}");
    cfg.control.token = Some("short".into());
    assert!(cfg.check().unwrap_err().to_string().contains("16"));
    cfg.control.token = Some("0123456789abcdef0123".into());
    cfg.check().unwrap();
    cfg.control.voices_dir = Some("/nonexistent/voices".into());
    assert!(cfg.check().unwrap_err().to_string().contains("control.voices_dir"));
}

#[test]
fn relative_paths_follow_the_file() {
    let text = "[outputs.mp4]\npath = \"o.mp4\"\n[model]\npackage = \"p\"\nspeech_package = \"../s\"\n";
    let cfg = Config::from_toml(text, Path::new("/etc/jamflow/c.toml")).unwrap();
    assert_eq!(cfg.model.speech_package, Some(PathBuf::from("/etc/jamflow/../s")));
    assert_eq!(cfg.model.package, Some(PathBuf::from("/etc/jamflow/p")));
    assert_eq!(cfg.outputs.mp4.unwrap().path, PathBuf::from("/etc/jamflow/o.mp4"));
}

#[test]
fn piper_lips_parse_and_phones_need_a_speech_package() {
    let c = Config::from_toml("", Path::new("c.toml")).unwrap();
    assert_eq!(c.speech.lips, crate::speech::Lips::Audio, "the live model hears the voice by default");
    let c = Config::from_toml("[speech]\nlips = \"phones\"\n", Path::new("c.toml")).unwrap();
    assert_eq!(c.speech.lips, crate::speech::Lips::Phones);
    let e = c.check().unwrap_err().to_string();
    assert!(e.contains("speech.lips") && e.contains("model.speech_package"), "{e}");
    assert_eq!(c.speech.lips_steps, crate::speech::PHONE_LIPS_STEPS);
    let empty = Config::from_toml("", Path::new("c.toml")).unwrap();
    assert_eq!(Config::default().speech, empty.speech, "a config built in code (bench-live) has the file's defaults");
    let mut c = c;
    c.model.speech_package = Some(std::env::temp_dir());
    c.speech.lips_steps = 0;
    let e = c.check().unwrap_err().to_string();
    assert!(e.contains("speech.lips_steps") && e.contains("1..=64"), "{e}");
    let e = Config::from_toml("[speech]\nlips = \"loud\"\n", Path::new("c.toml")).unwrap_err().to_string();
    assert!(e.contains("loud") && e.contains("phones"), "{e}");
}

#[test]
fn model_engine_durations_parse() {
    use crate::speech::Durations;
    let c = Config::from_toml("", Path::new("c.toml")).unwrap();
    assert_eq!(c.speech.durations, Durations::Auto, "the voice's own durations where one is found");
    for (text, want) in [("voice", Durations::Voice), ("espeak", Durations::Espeak), ("auto", Durations::Auto)] {
        let c = Config::from_toml(&format!("[speech]\ndurations = \"{text}\"\n"), Path::new("c.toml")).unwrap();
        assert_eq!(c.speech.durations, want);
    }
    let e = Config::from_toml("[speech]\ndurations = \"fast\"\n", Path::new("c.toml")).unwrap_err().to_string();
    assert!(e.contains("fast") && e.contains("espeak"), "{e}");
}
