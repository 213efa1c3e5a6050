fn main() {
    println!("iaso: the command-line interface is being assembled; see README.md");
}
