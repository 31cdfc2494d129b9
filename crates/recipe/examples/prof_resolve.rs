fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes");
    let catalog = aicr_catalog::load_dir(&dir, "x").unwrap().catalog;
    let c = aicr_recipe::Criteria {
        service: aicr_recipe::Service::Eks,
        accelerator: aicr_recipe::Accelerator::H100,
        os: aicr_recipe::Os::Ubuntu,
        intent: aicr_recipe::Intent::Training,
        ..Default::default()
    };
    let mut n = 0;
    for _ in 0..20000 {
        n += std::hint::black_box(catalog.resolve(&c).unwrap())
            .components
            .len();
    }
    println!("{n}");
}
