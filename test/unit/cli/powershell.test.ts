import {describe, expect, it} from 'vitest'
import {UsageError} from '../../../src/lib/cli/errors.js'
import {CMDLET_MARKER, routeCmdlet, translateArguments} from '../../../src/lib/cli/powershell.js'

const flags = {
  'customer-address': {type: 'option' as const},
  'customer-id': {type: 'option' as const},
  'virtual-subnet-id': {type: 'option' as const},
  'mac-address': {type: 'option' as const},
  'use-vm-mac-address': {type: 'option' as const},
  'pass-thru': {type: 'boolean' as const},
  'what-if': {type: 'boolean' as const},
  confirm: {type: 'boolean' as const, hidden: true},
}
const names = {'mac-address': 'MACAddress', 'virtual-subnet-id': 'VirtualSubnetID', 'customer-id': 'CustomerID'}
const t = (...tokens: string[]) => translateArguments(tokens, flags, names, ['customer-address'])

describe('routeCmdlet', () => {
  const commands = [{id: 'lookup-record:new', aliases: ['New-NetVirtualizationLookupRecord']}]
  it('finds cmdlet names in any case', () => {
    expect(routeCmdlet(['new-netvirtualizationlookuprecord', '-CustomerAddress', '10.0.0.5'], commands)).toEqual(['lookup-record:new', CMDLET_MARKER, '-CustomerAddress', '10.0.0.5'])
  })
  it('leaves topic commands alone', () => {
    expect(routeCmdlet(['lookup-record', 'new'], commands)).toBeNull()
  })
  it('routes help for a cmdlet', () => {
    expect(routeCmdlet(['help', 'New-NetVirtualizationLookupRecord'], commands)).toEqual(['help', 'lookup-record', 'new'])
    expect(routeCmdlet(['New-NetVirtualizationLookupRecord', '-?'], commands)).toEqual(['lookup-record:new', '--help'])
  })
})

describe('translateArguments', () => {
  it('maps names case-insensitively, -Name value and -Name:value', () => {
    expect(t('-CUSTOMERADDRESS', '10.0.0.5', '-VirtualSubnetID:5001')).toEqual(['--customer-address', '10.0.0.5', '--virtual-subnet-id', '5001'])
  })
  it('keeps colons inside -Name:value values (IPv6)', () => {
    expect(t('-CustomerAddress:fe80::1')).toEqual(['--customer-address', 'fe80::1'])
  })
  it('accepts unique prefixes and rejects ambiguous ones', () => {
    expect(t('-Virt', '5001', '-MAC', '101010101105')).toEqual(['--virtual-subnet-id', '5001', '--mac-address', '101010101105'])
    expect(() => t('-Customer', 'x')).toThrow('ambiguous: it could be -CustomerAddress, -CustomerID')
  })
  it('prefers an exact name over a longer one it prefixes', () => {
    const shapes = {name: {type: 'option' as const}, 'name-x': {type: 'option' as const}}
    expect(translateArguments(['-Name', 'a'], shapes)).toEqual(['--name', 'a'])
  })
  it('suggests the closest parameter for a typo', () => {
    expect(() => t('-CustomerAdress', '10.0.0.5')).toThrow('did you mean -CustomerAddress?')
    expect(() => t('-Bogus', '1')).toThrow(UsageError)
  })
  it('treats switches as PowerShell does', () => {
    expect(t('-PassThru')).toEqual(['--pass-thru'])
    expect(t('-PassThru:$true', '-WhatIf:$false')).toEqual(['--pass-thru'])
    expect(t('-Confirm:$false')).toEqual([])
    expect(() => t('-PassThru:maybe')).toThrow('a switch takes $true or $false')
  })
  it('passes boolean values through and asks for a missing one', () => {
    expect(t('-UseVmMACAddress', '$false')).toEqual(['--use-vm-mac-address', '$false'])
    expect(t('-UseVmMACAddress:1')).toEqual(['--use-vm-mac-address', '1'])
    expect(() => t('-UseVmMACAddress')).toThrow("needs a value (in bash, quote PowerShell variables: '$true')")
    expect(() => t('-UseVmMACAddress', '-PassThru')).toThrow('needs a value')
  })
  it('joins PowerShell arrays split by the shell after a comma', () => {
    expect(t('-VirtualSubnetID', '5001,', '6001')).toEqual(['--virtual-subnet-id', '5001,6001'])
    expect(t('-VirtualSubnetID', '5001,6001')).toEqual(['--virtual-subnet-id', '5001,6001'])
  })
  it('maps positional values and leaves -- flags alone', () => {
    expect(t('10.0.0.5', '--json')).toEqual(['--customer-address', '10.0.0.5', '--json'])
    expect(() => t('10.0.0.5', '10.0.0.6')).toThrow("unexpected value '10.0.0.6'")
  })
})
