fn main() {
    ward_cli::run();
}
