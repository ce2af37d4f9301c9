// The migrations are embedded with include_dir!, which does not tell cargo about files added
// to the folder: a new migration must rebuild this crate.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
