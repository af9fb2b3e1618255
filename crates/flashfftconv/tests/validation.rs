//! Input validation that needs no GPU: shapes, padding, output lengths, the kernel table.

use flashfftconv::{DepthwiseConv1d, Error, Layout, PTX_SM90};
use flashfftconv_abi::{Conv1dKernel, DType};

#[test]
fn output_lengths_follow_pytorch() {
    assert_eq!(DepthwiseConv1d::new(4, 3).output_len(10).unwrap(), 8);
    assert_eq!(DepthwiseConv1d::causal(4, 5).output_len(10).unwrap(), 10);
    assert_eq!(DepthwiseConv1d::same(4, 4).output_len(10).unwrap(), 10);
    assert_eq!(DepthwiseConv1d::same(4, 4).pad_left, 1);
    assert_eq!(DepthwiseConv1d::same(4, 4).pad_right, 2);
    assert_eq!(DepthwiseConv1d::new(4, 2).with_padding(1, 1).output_len(1).unwrap(), 2);
}

#[test]
fn rejects_bad_shapes_with_numbers() {
    let too_short = DepthwiseConv1d::new(4, 5).output_len(3).unwrap_err();
    assert!(matches!(too_short, Error::Unsupported { what: "len", value: 3, .. }), "{too_short}");
    let pad = DepthwiseConv1d::new(4, 3).with_padding(3, 0).output_len(10).unwrap_err();
    assert!(matches!(pad, Error::Unsupported { what: "pad_left", value: 3, .. }), "{pad}");
    assert!(pad.to_string().contains("kernel_size − 1 = 2"), "{pad}");
    let zero = DepthwiseConv1d::new(0, 3).output_len(10).unwrap_err();
    assert!(matches!(zero, Error::Unsupported { what: "channels", .. }));
    let taps = DepthwiseConv1d::new(4, 0).output_len(10).unwrap_err();
    assert!(matches!(taps, Error::Unsupported { what: "kernel_size", .. }));
    let len0 = DepthwiseConv1d::causal(4, 3).with_layout(Layout::Blh).output_len(0).unwrap_err();
    assert!(matches!(len0, Error::Unsupported { what: "len", .. }));
}

#[test]
fn every_kernel_in_the_table_is_in_the_ptx() {
    for kernel in Conv1dKernel::ALL {
        for x in DType::ALL {
            for w in DType::ALL {
                let name = kernel.entry_name(x, w);
                assert!(PTX_SM90.contains(&format!(".entry {name}(")), "kernel {name} missing from the committed PTX");
            }
        }
    }
}

#[test]
fn kernel_parameter_layout_is_pinned() {
    // Struct-by-value parameters are fragile on rustc's ptx-kernel ABI (rust-lang/rust#117271):
    // pin how the PTX declares them.
    let fwd = PTX_SM90.split(".entry conv1d_fwd_bhl_bf16_bf16(").nth(1).expect("entry present");
    let params = &fwd[..fwd.find(')').expect("parameter list")];
    assert_eq!(params.matches(".param .u64").count(), 4, "{params}");
    assert!(params.contains(".param .align 4 .b8") && params.contains("[32]"), "params struct: {params}");
    let dw = PTX_SM90.split(".entry conv1d_dw_bhl_bf16_bf16(").nth(1).expect("entry present");
    let params = &dw[..dw.find(')').expect("parameter list")];
    assert!(params.contains("[48]"), "weight-grad params struct: {params}");
}

#[test]
fn no_driver_is_an_error_not_a_panic() {
    if flashfftconv::driver_available() {
        println!("driver present: the no-driver path is not exercised on this machine");
        return;
    }
    assert!(matches!(flashfftconv::Gpu::new(0), Err(Error::NoDriver)));
    assert!(matches!(flashfftconv::device_count(), Err(Error::NoDriver)));
}
