// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

// The system allocator, unlike the CLI's mimalloc: the window spends its life idle, and
// mimalloc only gives freed memory back on later allocations, so a patient of thousands of
// photos, once browsed, stayed resident (about +30 MB measured) until the next click.

fn main() {
    chairside_desktop::run();
}
