fn main() {
    print!("{}", cairn_operator::crd::crd_yaml().unwrap());
}
